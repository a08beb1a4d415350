"""Writes of compute targets: a worker's heartbeat, which also makes the targets it serves."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tracking.models import ComputeTarget, WorkerHeartbeat


def record_heartbeat(
    *,
    hostname: str,
    targets: list[str],
    concurrency: int,
    serves_general: bool,
    started_at: datetime | None = None,
) -> None:
    """Marks the worker alive (now), with what it serves; a target it names exists from then on."""
    with transaction.atomic():
        ComputeTarget.objects.bulk_create(
            [ComputeTarget(name=name) for name in targets], ignore_conflicts=True
        )
        WorkerHeartbeat.objects.update_or_create(
            hostname=hostname,
            defaults={
                "last_seen": timezone.now(),
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "targets": sorted(targets),
                "concurrency": concurrency,
                "serves_general": serves_general,
                **({"started_at": started_at} if started_at else {}),
            },
        )
