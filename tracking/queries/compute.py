"""Compute targets as the studio shows them: which exist, which have live workers, what runs and
waits on each, and why a queued job is still waiting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from tracking.errors import InvalidParameterValue
from tracking.models import ComputeTarget, Job, WorkerHeartbeat, Workspace
from tracking.models.compute import DEFAULT_TARGET
from tracking.models.work import QUEUED, RUNNING


def live_workers() -> QuerySet[WorkerHeartbeat]:
    since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    return WorkerHeartbeat.objects.filter(last_seen__gte=since).order_by("host", "hostname")


def live_targets() -> set[str]:
    return {target for targets in live_workers().values_list("targets", flat=True) for target in targets}


def checked_target(name: str) -> str:
    """The compute target a submission names (the default one when none), if it exists."""
    name = (name or "").strip() or DEFAULT_TARGET
    if name != DEFAULT_TARGET and not ComputeTarget.objects.filter(name=name).exists():
        known = ", ".join(ComputeTarget.objects.values_list("name", flat=True)) or DEFAULT_TARGET
        raise InvalidParameterValue(
            f"Unknown compute target '{name}'; this server has: {known}. A worker started with "
            f"`manage.py serve --only worker --queues {name}` makes it."
        )
    return name


def waiting_reason(job: Job, live: set[str]) -> str:
    """Why a queued job has not started: its target has no live worker (empty otherwise)."""
    if job.status != QUEUED or job.compute_target in live:
        return ""
    return (
        f"No live worker serves compute target '{job.compute_target}': the job waits until one "
        f"starts (`manage.py serve --only worker --queues {job.compute_target}`), or is cancelled."
    )


@dataclass
class TargetSummary:
    target: ComputeTarget
    workers: list[WorkerHeartbeat] = field(default_factory=list)
    running: int = 0
    queued: int = 0
    queued_here: int = 0  # of the workspace looking

    @property
    def slots(self) -> int:
        return sum(worker.concurrency for worker in self.workers)


def target_summaries(workspace: Workspace) -> list[TargetSummary]:
    """Every target with its live workers and the jobs running and waiting on it, in 3 queries."""
    summaries = {target.name: TargetSummary(target) for target in ComputeTarget.objects.all()}
    for worker in live_workers():
        for name in worker.targets:
            if name in summaries:
                summaries[name].workers.append(worker)
    counts = (
        Job.objects.filter(status__in=(QUEUED, RUNNING))
        .values("compute_target")
        .annotate(
            running=Count("pk", filter=Q(status=RUNNING)),
            queued=Count("pk", filter=Q(status=QUEUED)),
            queued_here=Count("pk", filter=Q(status=QUEUED, workspace=workspace)),
        )
    )
    for row in counts:
        summary = summaries.get(row["compute_target"])
        if summary is not None:
            summary.running, summary.queued, summary.queued_here = (
                row["running"],
                row["queued"],
                row["queued_here"],
            )
    return list(summaries.values())
