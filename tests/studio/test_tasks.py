"""Housekeeping tasks: planner statistics."""

from __future__ import annotations

import pytest
from django.db import connection

from studio.tasks import refresh_planner_statistics
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run


@pytest.mark.django_db(transaction=True)
def test_tables_that_grew_get_fresh_planner_statistics(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="grown")
    for _ in range(150):
        create_run(experiment=experiment)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")  # counters reach the view at commit
    analysed = refresh_planner_statistics()
    if connection.vendor == "postgresql":
        assert "tracking_run" in analysed
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'tracking_run'")
            assert cursor.fetchone()[0] >= 150
        assert "tracking_run" not in refresh_planner_statistics()  # nothing changed since
    else:
        assert analysed == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's PRAGMA optimize")
@pytest.mark.django_db(transaction=True)
def test_sqlite_statistics_are_sampled_and_give_way_to_a_writer_holding_the_lock(
    default_workspace, monkeypatch, caplog
):
    import sqlite3

    import studio.tasks as tasks

    monkeypatch.setattr(tasks, "_sqlite_optimized", [-tasks.SQLITE_OPTIMIZE_SECONDS])
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (configured_timeout,) = cursor.fetchone()
        cursor.execute("PRAGMA busy_timeout=50")
    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.05, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        assert refresh_planner_statistics() == []
        assert "wait for the next round" in caplog.text
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout={int(configured_timeout)}")

    monkeypatch.setattr(tasks, "_sqlite_optimized", [-tasks.SQLITE_OPTIMIZE_SECONDS])
    refresh_planner_statistics()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit")
        assert cursor.fetchone() == (400,)
