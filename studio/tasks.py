"""Housekeeping tasks of the project itself."""

from __future__ import annotations

import logging
import os
import time

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, connection

from tracking.services.compute import record_heartbeat

logger = logging.getLogger(__name__)


@shared_task(name="studio.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat() -> None:
    """Marks the worker that runs it alive (each worker also beats by itself, see studio.celery):
    sent by hand, it shows that a worker takes tasks from the default queue."""
    record_heartbeat(
        hostname=record_worker_heartbeat.request.hostname or f"worker@{os.uname().nodename}",
        targets=settings.WORKER_TARGETS,
        concurrency=int(os.environ.get("STUDIO_WORKER_CONCURRENCY") or 0),
        serves_general=settings.WORKER_SERVES_GENERAL,
    )


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


SQLITE_OPTIMIZE_SECONDS = 60
_sqlite_optimized = [-SQLITE_OPTIMIZE_SECONDS]  # when this process last asked SQLite to optimize


def refresh_planner_statistics() -> list[str]:
    """Re-reads the statistics of tables that changed a lot; returns the tables analysed.

    PostgreSQL's autovacuum does this, but it can be switched off (it is on some hosts), and
    then the planner keeps treating tables of 100,000 runs as empty and picks slow plans.
    SQLite keeps no statistics unless asked; `PRAGMA optimize` asks where it helps.
    """
    if connection.vendor == "sqlite":
        # It may write (ANALYZE), so it takes SQLite's one write lock: once a minute is enough.
        if time.monotonic() - _sqlite_optimized[0] >= SQLITE_OPTIMIZE_SECONDS:
            _optimize_sqlite()
            _sqlite_optimized[0] = time.monotonic()
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


def _optimize_sqlite() -> None:
    """`PRAGMA optimize` with ANALYZE sampling about 400 rows an index, as SQLite advises for it:
    a full ANALYZE reads every row while it holds the write lock (243,000 metric points: 90 ms,
    sampled 8; ten million would keep every writer waiting for seconds). A writer holding the
    lock past the busy timeout makes this round give way, not fail: the next one will do."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit=400")
            cursor.execute("PRAGMA optimize")
    except OperationalError as error:
        if "locked" not in str(error):
            raise
        logger.info("SQLite's planner statistics wait for the next round: the database is busy")


@shared_task(name="studio.tasks.refresh_planner_statistics", ignore_result=True)
def refresh_planner_statistics_task() -> None:
    refresh_planner_statistics()
