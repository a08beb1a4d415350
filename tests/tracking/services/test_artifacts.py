"""Artifacts as a workspace sees them: its own folder of the store, which no path and no link
leads out of (another workspace's files live beside it, under the same root)."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from tracking.artifacts import ArtifactReplaced
from tracking.errors import InvalidParameterValue
from tracking.services.artifacts import (
    READ_ATTEMPTS,
    list_artifacts,
    open_artifact,
    read_artifact,
    save_artifact,
    workspace_prefix,
)


@pytest.fixture
def two_workspaces(settings, tmp_path, default_workspace, make_workspace):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    other = make_workspace("other-team")
    save_artifact(workspace=other, path="1/run/artifacts/secret.txt", stream=io.BytesIO(b"theirs"))
    save_artifact(workspace=default_workspace, path="1/mine/artifacts/ok.txt", stream=io.BytesIO(b"ours"))
    return default_workspace, other


def test_a_link_into_another_workspace_leads_nowhere(settings, two_workspaces):
    """A link that stays under the artifact root but leaves the workspace's own folder."""
    mine, theirs = two_workspaces
    root = Path(settings.ARTIFACT_ROOT)
    os.symlink(root / workspace_prefix(theirs) / "1", root / workspace_prefix(mine) / "1" / "peek")
    os.symlink(
        root / workspace_prefix(theirs) / "1/run/artifacts/secret.txt",
        root / workspace_prefix(mine) / "1/mine/artifacts/secret.txt",
    )

    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        open_artifact(mine, "1/mine/artifacts/secret.txt")
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        open_artifact(mine, "1/peek/run/artifacts/secret.txt")
    assert [f.path for f in list_artifacts(mine, "1")] == ["mine"]
    assert [f.path for f in list_artifacts(mine, "1/mine/artifacts")] == ["ok.txt"]
    handle, size, _ = open_artifact(theirs, "1/run/artifacts/secret.txt")
    with handle:
        assert (handle.read(), size) == (b"theirs", 6)


# Reading one version of a file that saves keep replacing (a running job's log)


@pytest.fixture
def workspace_on_s3(settings, s3_service, default_workspace):
    settings.ARTIFACT_ROOT = f"{s3_service.artifact_root}/reads-{uuid.uuid4().hex}"
    return default_workspace


def test_a_file_replaced_while_it_is_read_is_read_again_whole(workspace_on_s3):
    save_artifact(workspace=workspace_on_s3, path="1/r/artifacts/log.txt", stream=io.BytesIO(b"one\n"))
    reads = []

    def read(handle, size):
        reads.append(size)
        if len(reads) == 1:  # a flush lands between the look-up and the first byte
            save_artifact(
                workspace=workspace_on_s3, path="1/r/artifacts/log.txt", stream=io.BytesIO(b"one\ntwo\n")
            )
        return handle.read(), size

    assert read_artifact(workspace_on_s3, "1/r/artifacts/log.txt", read) == (b"one\ntwo\n", 8)
    assert reads == [4, 8]


def test_a_file_replaced_at_every_attempt_is_busy_not_a_failure(workspace_on_s3):
    attempts = []

    def read(handle, size):
        attempts.append(size)
        save_artifact(
            workspace=workspace_on_s3, path="1/r/artifacts/log.txt", stream=io.BytesIO(b"x" * len(attempts))
        )
        return handle.read()

    save_artifact(workspace=workspace_on_s3, path="1/r/artifacts/log.txt", stream=io.BytesIO(b"start"))
    with pytest.raises(ArtifactReplaced) as replaced:
        read_artifact(workspace_on_s3, "1/r/artifacts/log.txt", read)
    assert len(attempts) == READ_ATTEMPTS
    assert (replaced.value.http_status, replaced.value.error_code) == (503, "TEMPORARILY_UNAVAILABLE")
