"""The artifact proxy (MlflowArtifactsService) and the tracking API's artifact listings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tracking.artifacts import ArtifactNotFound, FileInfo, clean_path
from tracking.errors import InvalidParameterValue, NotImplementedRpc, RequestTooLarge
from tracking.queries import logged_models as model_queries
from tracking.queries import runs as run_queries
from tracking.services import artifacts

from ..downloads import file_response, redirect_to_store
from ..router import ApiCall, rpc


def _files(infos: list[FileInfo]) -> list[dict[str, Any]]:
    files = []
    for info in infos:
        entry: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
        if not info.is_dir and info.file_size:
            entry["file_size"] = info.file_size
        files.append(entry)
    return files


@rpc("mlflow.artifacts.UploadArtifact", raw=True)
def upload_artifact(call: ApiCall) -> dict[str, Any]:
    declared = int(call.request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.ARTIFACT_MAX_UPLOAD_BYTES:
        raise RequestTooLarge(
            f"The upload has {declared} bytes; this server accepts files of at most "
            f"{settings.ARTIFACT_MAX_UPLOAD_BYTES} bytes (STUDIO_MAX_ARTIFACT_BYTES)."
        )
    artifacts.save_artifact(
        workspace=call.workspace, path=call.path_args["artifact_path"], stream=upload_stream(call)
    )
    return {}


class _ExactLength:
    """The request body, read a chunk at a time, that fails if it ends before Content-Length.

    A client that disconnects mid-upload must not leave a shorter file behind as if complete:
    the error makes the store drop the temporary file.
    """

    def __init__(self, request: HttpRequest, length: int) -> None:
        self.request, self.length, self.remaining = request, length, length
        # The server's own stream, when it can fill a buffer without a copy (see studio.gunicorn_io).
        # Django's wrapper of it adds nothing a body of known length needs.
        self._readinto = getattr(request.META.get("wsgi.input"), "readinto", None)

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        chunk = self.request.read(self.remaining if size < 0 else min(size, self.remaining))
        self._count(len(chunk))
        return chunk

    def readinto(self, buffer) -> int:
        if self.remaining <= 0:
            return 0
        if self._readinto is None:
            chunk = self.read(min(len(buffer), self.remaining))
            buffer[: len(chunk)] = chunk
            return len(chunk)
        with memoryview(buffer) as view:
            count = self._readinto(view[: self.remaining]) or 0
        self._count(count)
        return count

    def _count(self, received: int) -> None:
        if not received:
            raise InvalidParameterValue(
                f"The upload ended after {self.length - self.remaining} of {self.length} bytes; nothing was stored."
            )
        self.remaining -= received


def upload_stream(call: ApiCall):
    # Streamed from the socket; request.body would hold the whole file in memory.
    meta = call.request.META
    if meta.get("CONTENT_LENGTH"):
        return _ExactLength(call.request, int(meta["CONTENT_LENGTH"]))
    if meta.get("wsgi.input_terminated"):  # chunked transfer encoding, ended by the server
        return meta["wsgi.input"]
    return call.request


@rpc("mlflow.artifacts.DownloadArtifact", raw=True)
def download_artifact(call: ApiCall) -> HttpResponse:
    return send_artifact(call, call.path_args["artifact_path"])


def send_artifact(call: ApiCall, path: str) -> HttpResponse:
    """The file's bytes (an inert attachment), or on an object store a redirect to a signed URL of
    the store (which the client follows, Range header and all, without sending our credentials to
    another host)."""
    direct = artifacts.download_url(call.workspace, path)
    if direct is not None:
        return redirect_to_store(direct[0])
    handle, size, name = artifacts.open_artifact(call.workspace, path)
    return file_response(call.request, handle, size, name)


def send_artifact_under(call: ApiCall, root_uri: str, path: str) -> HttpResponse:
    """The file `path` of a run's, a logged model's or a version's folder `root_uri`. The path is
    checked on its own before it is joined, so that `..` cannot climb out of the folder."""
    relative = clean_path(path, file=True)
    root = artifacts.proxy_path(root_uri)
    if root is None:
        raise InvalidParameterValue(f"The files at '{root_uri}' are not stored on this server.")
    try:
        return send_artifact(call, f"{root}/{relative}")
    except ArtifactNotFound:
        # Named as the caller named it, as MLflow's server does, not by its place in the store.
        raise ArtifactNotFound(f"No such artifact: '{path}'") from None


@rpc("mlflow.artifacts.GetPresignedDownloadUrl", raw=True)
def get_presigned_download_url(call: ApiCall) -> dict[str, Any]:
    """A signed URL for the client to download from the store itself, in ranges if it likes;
    501 where downloads stream through the server (the client then uses DownloadArtifact)."""
    direct = artifacts.download_url(call.workspace, call.path_args["artifact_path"])
    if direct is None:
        raise NotImplementedRpc("Presigned downloads are not available for this server's artifact store.")
    url, size = direct
    return {"url": url, "headers": {}, "file_size": size}


@rpc("mlflow.artifacts.ListArtifacts")
def list_proxy_artifacts(call: ApiCall) -> dict[str, Any]:
    files = artifacts.list_artifacts(call.workspace, call.message.get("path", ""))
    return {"files": _files(files)} if files else {}


@rpc("mlflow.artifacts.DeleteArtifact", raw=True)
def delete_artifact(call: ApiCall) -> dict[str, Any]:
    artifacts.delete_artifact(workspace=call.workspace, path=call.path_args["artifact_path"])
    return {}


def _listing(call: ApiCall, root_uri: str, path: str) -> dict[str, Any]:
    root = artifacts.proxy_path(root_uri)
    response: dict[str, Any] = {"root_uri": root_uri}
    if root is not None:
        files = artifacts.list_under(call.workspace, root, path)
        if files:
            response["files"] = _files(files)
    return response


@rpc("mlflow.ListArtifacts")
def list_run_artifacts(call: ApiCall) -> dict[str, Any]:
    message = call.message
    run_id = message.get("run_id") or message.get("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'.")
    run = run_queries.get_run(call.workspace, run_id)
    return _listing(call, run.artifact_uri, message.get("path", ""))


@rpc("mlflow.ListLoggedModelArtifacts")
def list_logged_model_artifacts(call: ApiCall) -> dict[str, Any]:
    model = model_queries.get_logged_model(call.workspace, call.message["model_id"])
    return _listing(call, model.artifact_location, call.message.get("artifact_directory_path", ""))
