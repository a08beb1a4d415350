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
from tracking.errors import InvalidState
from tracking.models import Workspace

PROXY_SCHEME = "mlflow-artifacts:"


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
    handle = artifacts.open(relative)
    return handle, artifacts.size(relative), posixpath.basename(relative)


def list_artifacts(workspace: Workspace, path: str) -> list[FileInfo]:
    """Direct children of `path`, their paths relative to `path` itself (the proxy's listing)."""
    relative = _relative_path(path)
    return _relative(workspace_store(workspace).list(relative), relative)


def list_under(workspace: Workspace, root: str, path: str) -> list[FileInfo]:
    """Children of `root/path`, their paths relative to `root` (the tracking API's listing)."""
    root = _relative_path(root)
    folder = _relative_path(posixpath.join(root, path) if path else root)
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
