"""Plain routes the client calls besides the RPCs: health, version, server-info."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

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
    return {
        "store_type": "SqlStore",
        "artifact_serving_enabled": True,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "artifacts_presigned_only": False,
        "workspaces_enabled": True,
    }
