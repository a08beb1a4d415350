"""Artifacts as a workspace sees them: every path lives under the workspace's own folder.

The MLflow client addresses artifacts by proxy paths such as `1/<run id>/artifacts/model/MLmodel`
(from `mlflow-artifacts:/1/<run id>/artifacts`). Each workspace gets its own prefix in the
store, so the same proxy path in two workspaces names two different files, and no path can
reach another workspace's files: the prefix is added after the path has been validated.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from django.conf import settings

from tracking.artifacts import (
    ArtifactReplaced,
    ArtifactStore,
    ArtifactTooLarge,
    FileInfo,
    PartUrl,
    UploadedPart,
    clean_path,
    default_store,
)
from tracking.errors import InvalidParameterValue, InvalidState
from tracking.models import Workspace

PROXY_SCHEME = "mlflow-artifacts:"
# S3's limit on the parts of one upload, which MLflow's client keeps to as well.
MAX_UPLOAD_PARTS = 10_000
# Part URLs are handed out all at once, and a client with many parts starts the last ones long
# after the first: an hour, as MLflow's own S3 store signs them.
UPLOAD_URL_SECONDS = 3600


def workspace_prefix(workspace: Workspace) -> str:
    return f"workspaces/{workspace.pk}"


def _relative_path(path: str, *, file: bool = False) -> str:
    return clean_path(path, allow_empty=not file, file=file)


def store() -> ArtifactStore:
    """The whole store, for the server's own work across workspaces (imports, deletions); what a
    workspace's members address goes through `workspace_store`."""
    return default_store()


def workspace_store(workspace: Workspace) -> ArtifactStore:
    """The workspace's own part of the store: no path, and no link in it, leads out of it."""
    return default_store().within(workspace_prefix(workspace))


def proxy_path(artifact_uri: str) -> str | None:
    """`mlflow-artifacts:/1/abc/artifacts` -> `1/abc/artifacts`; None for a URI we do not serve."""
    if not artifact_uri.startswith(PROXY_SCHEME):
        return None
    rest = artifact_uri[len(PROXY_SCHEME) :]
    # The client also writes mlflow-artifacts://host:port/path; the path is what counts.
    if rest.startswith("//"):
        rest = "/" + rest[2:].partition("/")[2]
    return rest.strip("/")


def save_artifact(*, workspace: Workspace, path: str, stream: BinaryIO) -> int:
    return workspace_store(workspace).save(
        _relative_path(path, file=True), stream, max_bytes=settings.ARTIFACT_MAX_UPLOAD_BYTES
    )


def open_artifact(workspace: Workspace, path: str) -> tuple[BinaryIO, int, str]:
    """An open file, its size, and its name, for streaming a download."""
    relative = _relative_path(path, file=True)
    artifacts = workspace_store(workspace)
    handle, size = artifacts.open_sized(relative)
    return handle, size, posixpath.basename(relative)


T = TypeVar("T")

# A file replaced again and again while it is read (a running job's log, saved whole at every
# flush) is read from the start this many times before the reader gives up.
READ_ATTEMPTS = 4


def read_artifact(workspace: Workspace, path: str, read: Callable[[BinaryIO, int], T]) -> T:
    """`read(handle, size)` of one version of the file at `path`: if a save replaces it meanwhile
    (an object store reads by ranges of the version opened), it is opened again and read anew."""
    for _ in range(READ_ATTEMPTS - 1):
        try:
            return _read_once(workspace, path, read)
        except ArtifactReplaced:
            continue
    return _read_once(workspace, path, read)  # the last attempt's ArtifactReplaced is the answer


def _read_once(workspace: Workspace, path: str, read: Callable[[BinaryIO, int], T]) -> T:
    handle, size, _ = open_artifact(workspace, path)
    with handle:
        return read(handle, size)


def list_artifacts(workspace: Workspace, path: str) -> list[FileInfo]:
    """Direct children of `path`, their paths relative to `path` itself (the proxy's listing)."""
    relative = _relative_path(path)
    return _relative(workspace_store(workspace).list(relative), relative)


def list_under(workspace: Workspace, root: str, path: str) -> list[FileInfo]:
    """Children of `root/path`, their paths relative to `root` (the tracking API's listing)."""
    root = _relative_path(root)
    # The caller's path is checked on its own, so that it cannot climb out of `root` (nor an
    # error quote where the root lies in the store).
    relative = _relative_path(path) if path else ""
    folder = f"{root}/{relative}" if relative else root
    return _relative(workspace_store(workspace).list(folder), root)


def _relative(files: list[FileInfo], base: str) -> list[FileInfo]:
    cut = len(base) + 1 if base else 0
    return [FileInfo(info.path[cut:], info.is_dir, info.file_size) for info in files]


def delete_artifact(*, workspace: Workspace, path: str) -> int:
    """Deletes a file or a folder for good; returns the bytes freed (0 for a missing path).

    INVALID_STATE when registered versions keep their files there: they would stay READY with
    nothing to load."""
    from registry.queries.storage import describe, versions_using  # the registry builds on this module

    relative = _relative_path(path, file=True)
    versions = versions_using(workspace.pk, relative)
    if versions:
        raise InvalidState(
            f"{describe(versions)} keep their files here ({path}); delete those versions first."
        )
    return workspace_store(workspace).delete(relative)


def artifacts_size(workspace: Workspace, path: str = "") -> int:
    return workspace_store(workspace).total_size(_relative_path(path))


# --- Direct transfers: the client and the store exchange the bytes, the server signs URLs ------


def direct_downloads_enabled() -> bool:
    """Whether downloads go to signed URLs of the store (an object store, the setting on)."""
    return settings.ARTIFACT_PRESIGNED_DOWNLOADS and default_store().supports_direct_transfers


def direct_uploads_enabled() -> bool:
    return default_store().supports_direct_transfers


def download_url(workspace: Workspace, path: str) -> tuple[str, int] | None:
    """A signed URL of the store that downloads the file `path` (as an attachment), and its size;
    None where downloads stream through the server. A missing file or a folder raises here,
    so the caller answers 404 or 400 itself rather than send the client to the store's error."""
    if not direct_downloads_enabled():
        return None
    relative = _relative_path(path, file=True)
    artifacts = workspace_store(workspace)
    size = artifacts.size(relative)
    url = artifacts.presigned_download_url(
        relative, seconds=settings.ARTIFACT_PRESIGNED_SECONDS, filename=posixpath.basename(relative)
    )
    return url, size


def _upload_target(directory: str, local_file: str) -> str:
    """Where MLflow's client means a multipart upload to go: its file's name (the request names
    the file by its path on the client's machine, Windows or POSIX) in the directory addressed."""
    name = re.split(r"[\\/]", local_file)[-1] if isinstance(local_file, str) else ""
    if not name:
        raise InvalidParameterValue(f"Invalid value {local_file!r} for parameter 'path': it names no file.")
    return _relative_path(posixpath.join(directory, name) if directory else name, file=True)


def start_multipart_upload(
    *, workspace: Workspace, directory: str, local_file: str, parts: int
) -> tuple[str, list[PartUrl]]:
    """Begins an upload of `parts` parts to `directory/<local_file's name>`: the upload id and a
    signed URL per part. DirectTransfersUnsupported (501) where the store has none: the client
    then uploads through the proxy."""
    if not isinstance(parts, int) or not 1 <= parts <= MAX_UPLOAD_PARTS:
        raise InvalidParameterValue(
            f"Invalid value {parts!r} for parameter 'num_parts': an upload has 1 to {MAX_UPLOAD_PARTS} parts."
        )
    target = _upload_target(directory, local_file)
    return workspace_store(workspace).start_multipart(target, parts, seconds=UPLOAD_URL_SECONDS)


def complete_multipart_upload(
    *, workspace: Workspace, directory: str, local_file: str, upload_id: str, parts: list[UploadedPart]
) -> int:
    """Assembles the uploaded parts into the file; returns its size. A file over the upload limit
    (STUDIO_MAX_ARTIFACT_BYTES), which the server could not stop on its way to the store, is
    deleted again and refused as a proxy upload would be."""
    if not upload_id:
        raise InvalidParameterValue("Missing value for required parameter 'upload_id'.")
    if not parts:
        raise InvalidParameterValue("Missing value for required parameter 'parts'.")
    target = _upload_target(directory, local_file)
    artifacts = workspace_store(workspace)
    artifacts.complete_multipart(target, upload_id, parts)
    size = artifacts.size(target)
    if size > settings.ARTIFACT_MAX_UPLOAD_BYTES:
        artifacts.delete(target)
        raise ArtifactTooLarge(
            f"Artifact '{target}' has {size} bytes; this server accepts files of at most "
            f"{settings.ARTIFACT_MAX_UPLOAD_BYTES} bytes (STUDIO_MAX_ARTIFACT_BYTES)."
        )
    return size


def abort_multipart_upload(*, workspace: Workspace, directory: str, local_file: str, upload_id: str) -> None:
    if not upload_id:
        raise InvalidParameterValue("Missing value for required parameter 'upload_id'.")
    workspace_store(workspace).abort_multipart(_upload_target(directory, local_file), upload_id)
