"""Fixtures for jobs: folders of this test only, snapshots made from a dict of files, submitting."""

from __future__ import annotations

import io
import secrets
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def job_folders(settings, tmp_path, sandbox_reachable_folder, default_environment):
    """Folders of this test only. The jobs folder is one the sandbox's unprivileged user can reach
    (pytest's own temporary folders are private to root)."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.JOBS_DIR = sandbox_reachable_folder / "jobs"
    settings.JOB_LOG_FLUSH_SECONDS = 0.2
    settings.SERVER_URL = "http://studio.test:8000"
    return settings


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def snapshot_file(settings, files: dict[str, str | bytes]) -> Path:
    """A zip of `files` where an upload would have put it."""
    folder = Path(settings.JOBS_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(8)}.zip"
    path.write_bytes(zip_bytes(files))
    return path


@pytest.fixture
def submit(settings, default_workspace):
    """Submits a job of `files` running `command` in the default workspace (no message sent)."""
    from tracking.services.jobs import resolve_experiment, submit_job

    def make(files: dict[str, str | bytes], command: str = "", **options):
        workspace = options.pop("workspace", default_workspace)
        experiment = resolve_experiment(
            workspace=workspace, experiment_name=options.pop("experiment", "jobs")
        )
        return submit_job(
            workspace=workspace,
            experiment=experiment,
            snapshot=snapshot_file(settings, files),
            source_name="project",
            command=command,
            enqueue=False,
            **options,
        )

    return make


def read_log(job) -> str:
    from tracking.queries.jobs import read_output

    job.refresh_from_db()
    data, _ = read_output(job, 0, limit=10**9)
    return data.decode()
