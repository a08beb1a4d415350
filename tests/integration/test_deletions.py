"""A resource group deleted by real Celery workers: the first is killed in the middle, the
deletion is handed to a second once the first has gone silent, and in the end not one row or
file of the group is left."""

from __future__ import annotations

import io
import os
import signal

import pytest

from tests.conftest import ensure_default_workspace
from tracking.artifacts import default_store, is_local_root
from tracking.deletion.scope import resolve
from tracking.models import Deletion, Metric, ResourceGroup, Run, Workspace
from tracking.services.artifacts import proxy_path, save_artifact, workspace_prefix
from tracking.services.deletions import request_deletion, resend_stalled_deletions
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch
from tracking.services.workspaces import create_workspace

from .conftest import wait_for, worker_logs

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts

STALE_SECONDS = 2
RUNS = 40


def _ended(deletion_id: int) -> Deletion | None:
    # What the beat schedule does: a deletion whose worker went silent is sent again.
    resend_stalled_deletions()
    row = Deletion.objects.get(pk=deletion_id)
    return row if not row.is_active else None


def test_a_deletion_whose_worker_is_killed_is_finished_by_another(worker_processes, settings, tmp_path):
    if is_local_root(settings.ARTIFACT_ROOT):
        settings.ARTIFACT_ROOT = tmp_path / "artifacts"  # a folder of its own; a bucket's prefix is already
    settings.DELETION_STALE_SECONDS = STALE_SECONDS
    environment = {
        "STUDIO_ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
        "STUDIO_DELETION_STALE_SECONDS": str(STALE_SECONDS),
        # One run per chunk, and metric points in small batches: many commits to be killed between.
        "STUDIO_DELETION_CHUNK_RUNS": "1",
        "STUDIO_DELETION_CHUNK_POINTS": "500",
    }
    ensure_default_workspace()
    group = ResourceGroup.objects.create(name="doomed")
    workspaces = [create_workspace(resource_group=group, name=name) for name in ("doomed-a", "doomed-b")]
    for workspace in workspaces:
        experiment = create_experiment(workspace=workspace, name="e")
        for index in range(RUNS // 2):
            run = create_run(experiment=experiment)
            points = [MetricPoint("loss", i / 7, 1, i) for i in range(2000)]
            for start in range(0, len(points), 1000):
                log_batch(run=run, batch=Batch(metrics=points[start : start + 1000]))
            save_artifact(
                workspace=workspace,
                path=f"{proxy_path(run.artifact_uri)}/{index}.txt",
                stream=io.BytesIO(b"x"),
            )
    prefixes = [workspace_prefix(workspace) for workspace in workspaces]
    assert all(default_store().exists(prefix) for prefix in prefixes)

    first = worker_processes(**environment)
    row = request_deletion(resolve(Deletion.RESOURCE_GROUP, group.pk), confirmation="doomed")
    wait_for(
        lambda: Deletion.objects.filter(pk=row.pk, status="RUNNING", done__gte=3).exists(),
        90,
        f"the deletion to get going ({worker_logs(first)})",
    )
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    row.refresh_from_db()
    assert row.status == "RUNNING" and 0 < row.done < row.total, "the deletion ended before the kill"
    assert 0 < Run.objects.filter(experiment__workspace__resource_group=group).count() < RUNS

    second = worker_processes(**environment)
    try:
        ended = wait_for(lambda: _ended(row.pk), 120, "the deletion to end")
    except AssertionError as error:
        raise AssertionError(
            f"{error}: {Deletion.objects.filter(pk=row.pk).values().first()}\n{worker_logs(first, second)}"
        ) from None

    assert ended.status == "SUCCEEDED", ended.error
    assert ended.attempts >= 2
    assert ended.counts["runs"] == RUNS and ended.counts["metric_points"] == RUNS * 2000
    assert not ResourceGroup.objects.filter(pk=group.pk).exists()
    assert not Workspace.objects.filter(pk__in=[w.pk for w in workspaces]).exists()
    assert not Run.objects.filter(experiment__workspace_id__in=[w.pk for w in workspaces]).exists()
    assert not Metric.objects.filter(run__experiment__workspace_id__in=[w.pk for w in workspaces]).exists()
    assert not any(default_store().exists(prefix) for prefix in prefixes)
