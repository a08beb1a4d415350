"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import artifacts, experiments, logged_models, metrics, multipart, runs, server, ui, workspaces  # noqa: F401
