"""Reading jobs: one by id within its workspace, and a workspace's latest."""

from __future__ import annotations

from typing import BinaryIO

from django.db.models import QuerySet

from tracking.artifacts import ArtifactIsADirectory, ArtifactNotFound
from tracking.errors import ResourceDoesNotExist
from tracking.models import Job, Run, Workspace
from tracking.services.artifacts import proxy_path, read_artifact


def get_job(workspace: Workspace, job_id: int) -> Job:
    """The job with this id in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    job = (
        Job.objects.filter(pk=job_id, workspace=workspace)
        .select_related("workspace", "experiment", "run")
        .first()
    )
    if job is None:
        raise ResourceDoesNotExist(f"Job {job_id} does not exist in workspace '{workspace.name}'.")
    return job


def list_jobs(workspace: Workspace, *, limit: int = 100, status: str = "") -> QuerySet[Job]:
    """The newest jobs first, with their experiment and run (one query)."""
    jobs = Job.objects.filter(workspace=workspace).select_related("workspace", "experiment", "run")
    if status:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at", "-pk")[:limit]


OUTPUT_CHUNK = 256 * 1024
# Where a job's output goes among its run's artifacts; the run's "Outputs + logs" tab opens it first.
LOG_ARTIFACT = "logs/std_log.txt"


def log_artifact_path(run: Run) -> str:
    return f"{proxy_path(run.artifact_uri)}/{LOG_ARTIFACT}"


def read_output(job: Job, offset: int = 0, limit: int = OUTPUT_CHUNK) -> tuple[bytes, int]:
    """The job's captured output from byte `offset` (whole lines, up to `limit` bytes), and the
    size stored so far; (b"", 0) before any was stored."""
    if job.run is None:
        return b"", 0

    def read(handle: BinaryIO, size: int) -> tuple[bytes, int]:
        if offset >= size:
            return b"", size
        handle.seek(max(offset, 0))
        return handle.read(limit), size

    try:
        data, size = read_artifact(job.workspace, log_artifact_path(job.run), read)
    except (ArtifactNotFound, ArtifactIsADirectory):
        return b"", 0
    if len(data) == limit and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]  # the next read starts at a whole line
    return data, size
