"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import (  # noqa: F401
    artifacts,
    assessments,
    evaluation_datasets,
    experiments,
    gateway,
    gateway_catalog,
    issues,
    label_schemas,
    logged_models,
    metrics,
    multipart,
    review_queues,
    runs,
    scorers,
    server,
    trace_analytics,
    traces,
    traces_v2,
    ui,
    workspaces,
)
