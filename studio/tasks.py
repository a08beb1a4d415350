"""Housekeeping tasks of the project itself."""

from __future__ import annotations

import os

from celery import shared_task
from django.db import connection
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


# Tables whose planner statistics decide the plans of searches and pages of runs.
_PLANNED_TABLES = (
    "tracking_run",
    "tracking_param",
    "tracking_runtag",
    "tracking_metricsummary",
    "tracking_metric",
    "tracking_experiment",
    "registry_modelversion",
    "registry_registeredmodel",
)


def refresh_planner_statistics() -> list[str]:
    """Re-reads the statistics of tables that changed a lot; returns the tables analysed.

    PostgreSQL's autovacuum does this, but it can be switched off (it is on some hosts), and
    then the planner keeps treating tables of 100,000 runs as empty and picks slow plans.
    SQLite keeps no statistics unless asked; `PRAGMA optimize` asks where it helps.
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA optimize")
        return []
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) "
            "AND n_mod_since_analyze > 100 + n_live_tup / 10",
            [list(_PLANNED_TABLES)],
        )
        stale = [name for (name,) in cursor.fetchall()]
        for name in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")
    return stale


@shared_task(name="studio.tasks.refresh_planner_statistics", ignore_result=True)
def refresh_planner_statistics_task() -> None:
    refresh_planner_statistics()
