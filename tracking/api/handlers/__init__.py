"""The MLflow RPC handlers; importing this package registers them with the router."""

# ruff: noqa: F401
from . import (
    artifacts,
    experiments,
    logged_models,
    metrics,
    multipart,
    runs,
    server,
    traces,
    traces_v2,
    workspaces,
)
