from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models

from .work import LongWork


class Deletion(LongWork):
    """Deleting a resource group, a workspace, an experiment or a run for good: rows and files.

    The target is named by kind and primary key, not by a foreign key: the row outlives what it
    deletes, so that its progress and its end stay readable afterwards.
    """

    RESOURCE_GROUP = "resource_group"
    WORKSPACE = "workspace"
    EXPERIMENT = "experiment"
    RUN = "run"
    KINDS = [
        (RESOURCE_GROUP, "resource group"),
        (WORKSPACE, "workspace"),
        (EXPERIMENT, "experiment"),
        (RUN, "run"),
    ]

    kind = models.CharField(max_length=14, choices=KINDS)
    target_id = models.BigIntegerField()
    # What the person typed to confirm, and where the target was (for pages after it is gone).
    target_name = models.CharField(max_length=500)
    workspace_name = models.CharField(max_length=63, blank=True, default="")
    resource_group_name = models.CharField(max_length=63, blank=True, default="")
    # The dry run shown before confirming: {"runs": 12, "metric_points": 3400, ..., "bytes": 123}.
    plan = models.JSONField(default=dict)
    # What is gone so far, by the same keys.
    counts = models.JSONField(default=dict)
    requested_by = models.CharField(max_length=256, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["kind", "target_id", "status"], name="deletion_target"),
            models.Index(fields=["status", "heartbeat_at"], name="deletion_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"deletion {self.pk} of {self.get_kind_display()} {self.target_name}"

    @classmethod
    def stale_after(cls) -> timedelta:
        return timedelta(seconds=settings.DELETION_STALE_SECONDS)
