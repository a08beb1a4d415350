"""Uploads handed to workers: kept where they lie on a local artifact root; moved into the object
store's `staging/` prefix otherwise, copied back to a worker's disk for as long as it needs them,
and discarded by whoever is done with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracking.artifacts import default_store
from tracking.staging import discard, is_staged, local_copy, stage_upload, staged_size


@pytest.fixture
def upload(tmp_path) -> Path:
    path = tmp_path / "uploads" / "0123abcd.zip"
    path.parent.mkdir()
    path.write_bytes(b"PK" + bytes(range(256)) * 4000)
    return path


@pytest.fixture
def on_s3(settings, s3_service):
    import uuid

    settings.ARTIFACT_ROOT = f"{s3_service.artifact_root}/staging-tests-{uuid.uuid4().hex[:8]}"
    return settings.ARTIFACT_ROOT


def test_on_a_local_root_an_upload_stays_where_it_lies(settings, tmp_path, upload):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    reference = stage_upload(upload, "jobs")
    assert reference == str(upload) and not is_staged(reference) and upload.exists()
    assert staged_size(reference) == upload.stat().st_size
    with local_copy(reference, tmp_path / "work") as copy:
        assert copy == upload
    assert upload.exists()  # reading it does not consume it
    assert discard(reference) == 256 * 4000 + 2 and not upload.exists()
    assert discard(reference) == 0


def test_on_an_object_store_an_upload_moves_into_staging_outside_every_workspace(on_s3, tmp_path, upload):
    content = upload.read_bytes()
    reference = stage_upload(upload, "imports")

    assert is_staged(reference) and reference.startswith("store:staging/imports/")
    assert reference.endswith(".zip") and not upload.exists()
    key = reference.removeprefix("store:")
    assert default_store().exists(key) and not key.startswith("workspaces/")
    assert staged_size(reference) == len(content)


def test_a_worker_reads_a_staged_upload_from_a_copy_on_its_own_disk_removed_afterwards(
    on_s3, tmp_path, upload
):
    content = upload.read_bytes()
    reference = stage_upload(upload, "jobs")
    work = tmp_path / "worker-disk"

    with local_copy(reference, work) as copy:
        assert copy.is_relative_to(work) and copy.read_bytes() == content

    assert not copy.exists() and list(work.iterdir()) == []
    assert default_store().exists(reference.removeprefix("store:"))  # still there for a retry


def test_a_discarded_upload_is_gone_and_its_worker_is_told_so(on_s3, tmp_path, upload):
    reference = stage_upload(upload, "jobs")
    assert discard(reference) == 256 * 4000 + 2
    assert discard(reference) == 0
    with pytest.raises(FileNotFoundError), local_copy(reference, tmp_path / "work"):
        pass
    assert list((tmp_path / "work").iterdir()) == []


def test_a_failed_submission_leaves_nothing_staged(db, on_s3, tmp_path, upload, monkeypatch):
    from tests.conftest import ensure_default_workspace
    from tracking.errors import InvalidParameterValue
    from tracking.models import Workspace
    from tracking.services import jobs
    from tracking.services.jobs import resolve_experiment, submit_job

    ensure_default_workspace()
    workspace = Workspace.objects.get(name="default")
    experiment = resolve_experiment(workspace=workspace, experiment_name="remote")

    def refuse(*args, **kwargs):
        raise InvalidParameterValue("no such environment")

    monkeypatch.setattr(jobs, "checked_environment", refuse)
    import zipfile

    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("train.py", "print(1)")
    with pytest.raises(InvalidParameterValue):
        submit_job(workspace=workspace, experiment=experiment, snapshot=upload, command="python train.py")
    assert list(default_store().walk("staging")) == []
