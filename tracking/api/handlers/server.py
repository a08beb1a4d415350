"""Plain routes the client calls besides the RPCs: health, version, server-info."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from tracking.services import artifacts

from ..router import ApiCall, extra_route, rpc
from ..spec import MLFLOW_VERSION

extra_route("GET", "/mlflow/server-info", 3, "mlflow.ServerInfo")


def health(request: HttpRequest, workspace_name: str | None = None) -> HttpResponse:
    return HttpResponse("OK", content_type="text/plain")


def version(request: HttpRequest, workspace_name: str | None = None) -> HttpResponse:
    # The tracing client compares this with its own version; we speak that MLflow's protocol.
    return HttpResponse(MLFLOW_VERSION, content_type="text/plain")


@rpc("mlflow.ServerInfo")
def server_info(call: ApiCall) -> dict[str, Any]:
    # The client reads these to choose, for large files, uploads in parts straight to the store
    # (mpu/*) and downloads from signed URLs (presigned/*); both need an object store.
    return {
        "store_type": "SqlStore",
        "artifact_serving_enabled": True,
        "multipart_uploads_enabled": artifacts.direct_uploads_enabled(),
        "multipart_downloads_enabled": artifacts.direct_downloads_enabled(),
        "artifacts_presigned_only": False,
        "workspaces_enabled": True,
        # The UI shows its AI gateway pages when this says so (tracking.api.handlers.gateway).
        "features_enabled": {"gateway": True},
    }
