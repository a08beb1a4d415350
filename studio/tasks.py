"""Housekeeping tasks of the project itself."""

from __future__ import annotations

import os

from celery import shared_task
from django.utils import timezone

from .models import WorkerHeartbeat


def record_heartbeat(hostname: str | None) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname or f"worker@{os.uname().nodename}",
        defaults={"last_seen": timezone.now(), "pid": os.getpid()},
    )


@shared_task(name="studio.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat() -> None:
    """Marks this worker alive, so the studio can say whether anyone will pick up long work."""
    record_heartbeat(record_worker_heartbeat.request.hostname)
