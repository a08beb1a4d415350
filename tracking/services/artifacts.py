"""Artifacts as a workspace sees them: every path lives under the workspace's own folder.

The MLflow client addresses artifacts by proxy paths such as `1/<run id>/artifacts/model/MLmodel`
(from `mlflow-artifacts:/1/<run id>/artifacts`). Each workspace gets its own prefix in the
store, so the same proxy path in two workspaces names two different files, and no path can
reach another workspace's files: the prefix is added after the path has been validated.
"""

from __future__ import annotations

import posixpath
from typing import BinaryIO

from django.conf import settings

from tracking.artifacts import ArtifactStore, FileInfo, clean_path, default_store
from tracking.models import Workspace

PROXY_SCHEME = "mlflow-artifacts:"


def workspace_prefix(workspace: Workspace) -> str:
    return f"workspaces/{workspace.pk}"


def _store_path(workspace: Workspace, path: str, *, file: bool = False) -> str:
    relative = clean_path(path, allow_empty=not file, file=file)
    return f"{workspace_prefix(workspace)}/{relative}" if relative else workspace_prefix(workspace)


def store() -> ArtifactStore:
    return default_store()


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
    return store().save(
        _store_path(workspace, path, file=True), stream, max_bytes=settings.ARTIFACT_MAX_UPLOAD_BYTES
    )


def open_artifact(workspace: Workspace, path: str) -> tuple[BinaryIO, int, str]:
    """An open file, its size, and its name, for streaming a download."""
    full = _store_path(workspace, path, file=True)
    artifacts = store()
    handle = artifacts.open(full)
    return handle, artifacts.size(full), posixpath.basename(full)


def list_artifacts(workspace: Workspace, path: str) -> list[FileInfo]:
    """Direct children of `path`, their paths relative to `path` itself (the proxy's listing)."""
    return _relative(store().list(_store_path(workspace, path)), _store_path(workspace, path))


def list_under(workspace: Workspace, root: str, path: str) -> list[FileInfo]:
    """Children of `root/path`, their paths relative to `root` (the tracking API's listing)."""
    root_full = _store_path(workspace, root)
    return _relative(
        store().list(_store_path(workspace, posixpath.join(root, path) if path else root)), root_full
    )


def _relative(files: list[FileInfo], base: str) -> list[FileInfo]:
    cut = len(base) + 1
    return [FileInfo(info.path[cut:], info.is_dir, info.file_size) for info in files]


def delete_artifact(*, workspace: Workspace, path: str) -> int:
    """Deletes a file or a folder for good; returns the bytes freed (0 for a missing path)."""
    return store().delete(_store_path(workspace, path, file=True))


def artifacts_size(workspace: Workspace, path: str = "") -> int:
    return store().total_size(_store_path(workspace, path))
