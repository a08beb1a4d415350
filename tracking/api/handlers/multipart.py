"""Multipart uploads through the artifact proxy (`mpu/create|complete|abort`), as MLflow's
`HttpArtifactRepository` drives them for large files: the server opens the upload and signs a URL
per part, the client PUTs the parts to the store itself and reports their ETags, the server
completes (or aborts) the upload. The bytes never pass through this server.

The route's path is the folder; the request's `path` is the file on the client's machine, whose
name the artifact takes. On the local store `create` answers 501 with the message the client
recognises, after which it uploads the file through the proxy as usual.
"""

from __future__ import annotations

from typing import Any

from tracking.artifacts import UploadedPart
from tracking.errors import InvalidParameterValue
from tracking.services import artifacts

from ..router import ApiCall, rpc


def _required(call: ApiCall, name: str) -> Any:
    value = call.message.get(name)
    if value in (None, "", []):
        raise InvalidParameterValue(f"Missing value for required parameter '{name}'.")
    return value


@rpc("mlflow.artifacts.CreateMultipartUpload")
def create_multipart_upload(call: ApiCall) -> dict[str, Any]:
    upload_id, urls = artifacts.start_multipart_upload(
        workspace=call.workspace,
        directory=call.path_args["artifact_path"],
        local_file=_required(call, "path"),
        parts=int(_required(call, "num_parts")),
    )
    return {
        "upload_id": upload_id,
        "credentials": [
            {"part_number": url.part_number, "url": url.url, "headers": url.headers} for url in urls
        ],
    }


@rpc("mlflow.artifacts.CompleteMultipartUpload")
def complete_multipart_upload(call: ApiCall) -> dict[str, Any]:
    artifacts.complete_multipart_upload(
        workspace=call.workspace,
        directory=call.path_args["artifact_path"],
        local_file=_required(call, "path"),
        upload_id=_required(call, "upload_id"),
        parts=[_part(part, index) for index, part in enumerate(_required(call, "parts"))],
    )
    return {}


def _part(part: Any, index: int) -> UploadedPart:
    """A part as the client reports it. Its ETag may be empty: Azure answers a Put Block without
    one, and the store that needs it (S3) refuses the parts that do not match."""
    number = part.get("part_number") if isinstance(part, dict) else None
    etag = part.get("etag") if isinstance(part, dict) else None
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise InvalidParameterValue(f"Part {index} of 'parts' needs a 'part_number' of 1 or more.")
    if etag is not None and not isinstance(etag, str):
        raise InvalidParameterValue(f"Part {index} of 'parts' has an 'etag' that is not a string.")
    return UploadedPart(part_number=number, etag=etag or "")


@rpc("mlflow.artifacts.AbortMultipartUpload")
def abort_multipart_upload(call: ApiCall) -> dict[str, Any]:
    artifacts.abort_multipart_upload(
        workspace=call.workspace,
        directory=call.path_args["artifact_path"],
        local_file=_required(call, "path"),
        upload_id=_required(call, "upload_id"),
    )
    return {}
