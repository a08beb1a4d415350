"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import (  # noqa: F401
    artifacts,
    evaluation_datasets,
    experiments,
    gateway,
    gateway_catalog,
    issues,
    logged_models,
    metrics,
    multipart,
    runs,
    scorers,
    server,
    traces,
    traces_v2,
    ui,
    workspaces,
)
