"""Artifacts as a workspace sees them: its own folder of the store, which no path and no link
leads out of (another workspace's files live beside it, under the same root)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tracking.errors import InvalidParameterValue
from tracking.services.artifacts import (
    list_artifacts,
    open_artifact,
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
