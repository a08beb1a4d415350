"""Compute targets (named queues of jobs) and the workers that consume them.

A worker started with `manage.py serve --only worker --queues gpu-a100` joins the target
`gpu-a100`: it takes only that target's jobs. The worker `make run` starts serves the target
`default` and the server's own work (imports, deletions, sweeps). Every worker writes its
heartbeat here (which targets it serves, with how many slots), so the studio can say which
targets have live workers, and a job queued for one that has none says so.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

DEFAULT_TARGET = "default"


class ComputeTarget(models.Model):
    name = models.SlugField(max_length=63, unique=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return queue_of(self.name)


def queue_of(target: str) -> str:
    """The broker queue of a target's jobs."""
    return f"jobs.{target}"


class WorkerHeartbeat(models.Model):
    """The last sign of life of each Celery worker, written by a thread of the worker itself."""

    hostname = models.CharField(max_length=255, unique=True)  # Celery's node name: name@host
    last_seen = models.DateTimeField()
    pid = models.IntegerField(default=0)
    host = models.CharField(max_length=255, blank=True, default="")  # the machine
    targets = models.JSONField(default=list)  # the compute targets whose jobs it takes
    concurrency = models.PositiveIntegerField(default=0)  # jobs (and tasks) it runs at once
    serves_general = models.BooleanField(default=True)  # imports, deletions, sweeps
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "studio_workerheartbeat"  # made by the studio app, before targets existed

    def __str__(self) -> str:
        return self.hostname
