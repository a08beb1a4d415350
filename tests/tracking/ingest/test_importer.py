"""Carrying an import through: idempotent, resumable after an interruption, reported, cancellable."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.conftest import ensure_default_workspace
from tests.integration.mlruns_generator import generate
from tests.tracking.test_key_registry import held, registered
from tracking.ingest import runs as runs_module
from tracking.ingest.importer import run_import
from tracking.models import Experiment, Import, Metric, MetricSummary, Param, Run
from tracking.services.experiments import create_experiment
from tracking.services.imports import create_import
from tracking.services.runs import create_run

from .conftest import import_folder, table_counts

pytestmark = pytest.mark.django_db(transaction=True)

RUNS, POINTS, KEYS = 12, 1200, 2


class Crash(BaseException):
    """The worker dying: not an Exception, so nothing in the import catches it."""


@pytest.fixture
def generated(tmp_path):
    root = tmp_path / "generated" / "mlruns"
    run_ids = generate(root, runs=RUNS, points=POINTS, keys=KEYS)
    return root, run_ids


def test_importing_the_same_folder_twice_changes_nothing(mlflow_store):
    workspace = ensure_default_workspace()
    first = import_folder(workspace, mlflow_store.root)
    after_first = table_counts()

    second = import_folder(workspace, mlflow_store.root)

    assert first.status == second.status == "SUCCEEDED"
    assert table_counts() == after_first
    assert second.counts["runs"] == {"read": first.counts["runs"]["read"], "written": 0}
    assert second.counts["metrics"]["written"] == 0
    assert second.counts["metrics"]["read"] == first.counts["metrics"]["read"]
    assert all(entry["written"] == 0 for entry in second.counts.values()), second.counts


def test_it_counts_what_it_read_and_wrote_and_finishes_its_progress(generated):
    root, run_ids = generated
    row = import_folder(ensure_default_workspace(), root)

    assert row.status == "SUCCEEDED", row.error
    assert row.counts["runs"] == {"read": RUNS, "written": RUNS}
    assert row.counts["metrics"] == {"read": POINTS, "written": POINTS}
    assert row.counts["params"] == {"read": 3 * RUNS, "written": 3 * RUNS}
    assert row.counts["artifacts"] == {"read": RUNS, "written": RUNS}
    assert row.done == row.total == RUNS
    assert row.problem_count == 0 and row.finished_at is not None
    assert Metric.objects.count() == POINTS
    assert set(Run.objects.values_list("uuid", flat=True)) == set(run_ids)


def test_an_interrupted_import_resumes_from_its_checkpoint_without_duplicates(
    generated, settings, monkeypatch
):
    root, _ = generated
    settings.IMPORT_CHUNK_POINTS = 100  # a commit every two metric files
    settings.IMPORT_CHUNK_RUNS = 3
    workspace = ensure_default_workspace()
    row = create_import(workspace=workspace, source_kind=Import.FOLDER, source_path=str(root), enqueue=False)
    files_read = 0
    real_read_points = runs_module.read_points

    def dying_half_way(*args, **kwargs):
        nonlocal files_read
        files_read += 1
        if files_read == RUNS * KEYS // 2 + 1:
            raise Crash()
        return real_read_points(*args, **kwargs)

    monkeypatch.setattr(runs_module, "read_points", dying_half_way)
    with pytest.raises(Crash):
        run_import(row.pk, worker="first@here")
    monkeypatch.undo()

    row.refresh_from_db()
    assert row.status == "RUNNING" and 0 < row.done < RUNS
    assert row.checkpoint["runs"]["after"]
    assert 0 < Metric.objects.count() < POINTS
    # What the row says was written is what the database holds: they commit together.
    assert row.counts["metrics"]["written"] == Metric.objects.count()
    assert Import.claim(row.pk, "second@here") is None  # the first worker still seems to be at it

    Import.objects.filter(pk=row.pk).update(heartbeat_at=timezone.now() - Import.stale_after() * 2)
    resumed = run_import(row.pk, worker="second@here")

    assert resumed.status == "SUCCEEDED", resumed.error
    assert resumed.attempts == 2
    assert Run.objects.count() == RUNS
    assert Metric.objects.count() == POINTS
    assert Param.objects.count() == 3 * RUNS
    assert MetricSummary.objects.count() == RUNS * KEYS
    assert resumed.counts["metrics"]["written"] == POINTS
    assert resumed.counts["runs"]["written"] == RUNS


def test_a_run_cut_short_by_an_interruption_is_completed_by_the_next_import(generated, settings):
    root, run_ids = generated
    workspace = ensure_default_workspace()
    import_folder(workspace, root)
    complete = table_counts()
    # As if the first import had stopped inside this run: some of its rows are missing.
    run = Run.objects.get(uuid=run_ids[0])
    Param.objects.filter(run=run).delete()
    Metric.objects.filter(run=run).delete()
    MetricSummary.objects.filter(run=run).delete()

    again = import_folder(workspace, root)

    assert again.status == "SUCCEEDED", again.error
    assert table_counts() == complete
    assert again.counts["params"]["written"] == 3
    assert again.counts["metrics"]["written"] == POINTS // RUNS
    assert again.counts["runs"]["written"] == 0


def test_a_store_whose_runs_are_in_another_workspace_is_refused_whole(mlflow_store, make_workspace):
    """Never a half-import reported as a success, never a registered version without its run."""
    import_folder(ensure_default_workspace(), mlflow_store.root)
    other = make_workspace("other")
    before = table_counts()

    row = import_folder(other, mlflow_store.root)

    assert row.status == "FAILED"
    assert "runs of this store are already in another workspace" in row.error
    assert "Nothing was imported" in row.error and "default" not in row.error
    assert table_counts() == before  # no experiment, run, logged or registered model, version
    assert Run.objects.filter(experiment__workspace=other).count() == 0


def test_a_store_with_one_run_elsewhere_is_refused_too(generated, make_workspace):
    root, run_ids = generated
    default = ensure_default_workspace()
    other = make_workspace("other")
    taken = create_run(experiment=create_experiment(workspace=other, name="x"), run_name="taken")
    Run.objects.filter(pk=taken.pk).update(uuid=run_ids[5])

    row = import_folder(default, root)

    assert row.status == "FAILED"
    assert row.error.startswith(
        f"1 of the {RUNS} runs of this store are already in another workspace ({run_ids[5]})"
    )
    assert Run.objects.filter(experiment__workspace=default).count() == 0


def test_a_cancelled_import_stops_at_its_next_chunk_and_keeps_what_it_wrote(generated, settings, monkeypatch):
    root, _ = generated
    settings.IMPORT_CHUNK_POINTS = 100
    settings.IMPORT_CHUNK_RUNS = 3
    row = create_import(
        workspace=ensure_default_workspace(), source_kind=Import.FOLDER, source_path=str(root), enqueue=False
    )
    real_copy_folder = runs_module.copy_folder
    copied = 0

    def cancelled_half_way(**kwargs):
        # Artifacts are copied between transactions: where a cancel from the studio lands.
        nonlocal copied
        copied += 1
        if copied == 4:
            Import.cancel(row.pk)
        return real_copy_folder(**kwargs)

    monkeypatch.setattr(runs_module, "copy_folder", cancelled_half_way)
    ended = run_import(row.pk, worker="test@here")

    assert ended.status == "CANCELLED"
    assert Run.objects.count() == 3 and Metric.objects.count() == 3 * POINTS // RUNS
    assert ended.counts["metrics"]["written"] == Metric.objects.count()
    assert run_import(row.pk, worker="again@here") is None  # an ended import is never taken up again


def test_a_folder_that_is_no_file_store_fails_with_the_reason(tmp_path):
    (tmp_path / "empty").mkdir()
    row = import_folder(ensure_default_workspace(), tmp_path / "empty")

    assert row.status == "FAILED"
    assert row.error
    assert table_counts()["Run"] == 0


def test_an_import_registers_the_keys_of_its_active_runs_in_each_experiment(mlflow_store, settings):
    settings.IMPORT_CHUNK_RUNS = 2  # several chunks per experiment, each registering its own
    workspace = ensure_default_workspace()

    row = import_folder(workspace, mlflow_store.root)

    assert row.status == "SUCCEEDED", row.error
    experiments = Experiment.objects.filter(workspace=workspace, runs__isnull=False).distinct()
    assert experiments
    for experiment in experiments:
        assert registered(experiment) == held(experiment), experiment.name
    assert any(kind == "param" for experiment in experiments for kind, _ in registered(experiment))
