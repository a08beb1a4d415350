from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models

from .environments import Environment
from .experiments import Experiment
from .runs import Run
from .work import LongWork
from .workspaces import Workspace


class Job(LongWork):
    """A remote run: a source snapshot and a command (or an MLflow project's entry point) that a
    worker runs in a subprocess, logging to `run`, which the job creates first (SCHEDULED)."""

    COMMAND = "command"
    PROJECT = "project"
    KINDS = [(COMMAND, "command"), (PROJECT, "MLflow project")]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="jobs")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="jobs")
    run = models.OneToOneField(Run, null=True, on_delete=models.SET_NULL, related_name="job")
    kind = models.CharField(max_length=7, choices=KINDS, default=COMMAND)
    # The entry command as given ("python train.py --alpha 0.5"); for a project, the command its
    # entry point resolved to, once the worker has read the MLproject file.
    command = models.TextField(blank=True, default="")
    entry_point = models.CharField(max_length=250, blank=True, default="")
    parameters = models.JSONField(default=dict)
    # The name the person knows the source by (the folder, or the uploaded file's name).
    source_name = models.CharField(max_length=500, blank=True, default="")
    # The uploaded zip until the worker has stored its files as the run's snapshot.
    snapshot_path = models.TextField(blank=True, default="")
    snapshot_bytes = models.BigIntegerField(default=0)
    snapshot_files = models.IntegerField(default=0)
    # None: settings.JOB_TIME_LIMIT_SECONDS.
    time_limit_seconds = models.PositiveIntegerField(null=True)
    exit_code = models.IntegerField(null=True)
    # Output captured (kept) and past the cap (counted, not kept).
    output_bytes = models.BigIntegerField(default=0)
    output_dropped = models.BigIntegerField(default=0)
    submitted_by = models.CharField(max_length=256, blank=True, default="")
    # The compute target (a named queue, see models.compute) whose workers may run it.
    compute_target = models.SlugField(max_length=63, default="default")
    # The environment it runs in: the one submitted with it, else the snapshot's (set by the worker).
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="job_per_workspace"),
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk}: {self.command or self.entry_point}"

    @classmethod
    def stale_after(cls) -> timedelta:
        return timedelta(seconds=settings.JOB_STALE_SECONDS)

    @property
    def time_limit(self) -> int:
        return self.time_limit_seconds or settings.JOB_TIME_LIMIT_SECONDS
