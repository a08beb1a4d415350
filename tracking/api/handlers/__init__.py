"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import (  # noqa: F401
    artifacts,
    assessments,
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
    trace_analytics,
    traces,
    traces_v2,
    ui,
    workspaces,
)
