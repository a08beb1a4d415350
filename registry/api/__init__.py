"""The ModelRegistryService RPCs over MLflow's REST protocol (routing is tracking.api.router's)."""
