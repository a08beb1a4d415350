"""Imports carried out by real Celery worker processes: followed from the command line, and
resumed after the worker is killed in the middle (nothing lost, nothing duplicated)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.integration.mlruns_generator import generate
from tracking.artifacts import is_local_root
from tracking.models import Import, Metric, MetricSummary, Param, Run, RunTag
from tracking.services.imports import create_import, resend_stalled_imports

from .conftest import ROOT, child_environment, database_url_of_test_database, wait_for, worker_logs

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts

STALE_SECONDS = 2


@pytest.fixture
def workers(worker_processes, tmp_path, settings):
    """Starts real `celery worker` processes that import with small chunks and a short silence."""
    if is_local_root(settings.ARTIFACT_ROOT):
        settings.ARTIFACT_ROOT = tmp_path / "artifacts"  # a folder of its own; a bucket's prefix is already
    settings.IMPORTS_DIR = tmp_path / "imports"
    settings.IMPORT_STALE_SECONDS = STALE_SECONDS
    environment = {
        "STUDIO_ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
        "STUDIO_IMPORTS_DIR": str(settings.IMPORTS_DIR),
        "STUDIO_IMPORT_STALE_SECONDS": str(STALE_SECONDS),
        # Small chunks: many commits, so that a kill lands between two of them.
        "STUDIO_IMPORT_CHUNK_POINTS": "300",
        "STUDIO_IMPORT_CHUNK_RUNS": "2",
    }

    def start() -> subprocess.Popen:
        return worker_processes(**environment)

    start.environment = child_environment(DATABASE_URL=database_url_of_test_database(), **environment)
    return start


def _ended(import_id: int) -> Import | None:
    # Also what the beat schedule does: a message taken by some other worker on a shared broker,
    # or lost with a killed one, is sent again once the import has been silent long enough.
    resend_stalled_imports()
    row = Import.objects.get(pk=import_id)
    return row if not row.is_active else None


def test_the_command_follows_an_import_done_by_a_worker_and_prints_the_report(workers, tmp_path):
    from tests.conftest import ensure_default_workspace

    ensure_default_workspace()
    root = tmp_path / "store" / "mlruns"
    run_ids = generate(root, runs=20, points=4000, keys=2, experiments=2)
    worker = workers()

    done = subprocess.run(
        [sys.executable, "manage.py", "import_mlruns", str(root)],
        cwd=ROOT,
        env=workers.environment,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:] + worker_logs(worker)
    assert re.search(
        r"^\[[#.]{30}\] ", done.stdout, re.MULTILINE
    )  # the progress bar, a line per stage off a terminal
    assert "SUCCEEDED" in done.stdout
    report = {
        line.split()[0]: line.split()[1:]
        for line in done.stdout.splitlines()
        if line.startswith("  ") and line.split()
    }
    assert report["runs"] == ["20", "20"]
    assert report["metrics"] == ["4000", "4000"]
    assert set(Run.objects.values_list("uuid", flat=True)) == set(run_ids)
    assert Metric.objects.count() == 4000


def test_an_import_whose_worker_is_killed_completes_after_a_restart_with_nothing_duplicated(
    workers, tmp_path
):
    from tests.conftest import ensure_default_workspace

    runs, points = 60, 30_000
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=runs, points=points, keys=2, experiments=2)
    first = workers()
    row = create_import(
        workspace=ensure_default_workspace(), source_kind=Import.FOLDER, source_path=str(root)
    )

    wait_for(
        lambda: Import.objects.filter(pk=row.pk, status="RUNNING", done__gte=6).exists(),
        90,
        f"the import to get going ({worker_logs(first)})",
    )
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    row.refresh_from_db()
    assert row.status == "RUNNING", "the import ended before the kill; give it more data"
    assert 0 < row.done < row.total
    assert 0 < Metric.objects.count() < points
    assert row.counts["metrics"]["written"] == Metric.objects.count()

    second = workers()
    try:
        ended = wait_for(lambda: _ended(row.pk), 120, "the import to end")
    except AssertionError as error:
        raise AssertionError(
            f"{error}: {Import.objects.filter(pk=row.pk).values().first()}\n{worker_logs(first, second)}"
        ) from None

    assert ended.status == "SUCCEEDED", ended.error
    assert ended.attempts >= 2
    assert ended.done == ended.total == runs
    assert Run.objects.count() == runs
    assert Metric.objects.count() == points
    assert MetricSummary.objects.count() == 2 * runs
    assert Param.objects.count() == 3 * runs and RunTag.objects.count() == 3 * runs
    assert ended.counts["metrics"]["written"] == points
    assert ended.counts["runs"]["written"] == runs
    assert second.poll() is None  # the worker carries on
