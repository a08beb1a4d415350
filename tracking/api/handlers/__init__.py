"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import (  # noqa: F401
    artifacts,
    assessments,
    experiments,
    gateway,
    gateway_catalog,
    logged_models,
    metrics,
    multipart,
    runs,
    server,
    trace_analytics,
    traces,
    traces_v2,
    workspaces,
)
