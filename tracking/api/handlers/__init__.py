"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import artifacts, experiments, gateway, logged_models, metrics, multipart, runs, server, workspaces  # noqa: F401
