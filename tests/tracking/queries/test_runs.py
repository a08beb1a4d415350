"""A run read by its id (`get_run_record`): one statement, whatever data the run holds."""

from __future__ import annotations

import pytest

from tracking.errors import ResourceDoesNotExist
from tracking.queries.runs import get_run_record, load_runs
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch, log_outputs


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="runs-read")


def test_a_run_with_no_data_reads_with_empty_lists(default_workspace, experiment):
    run = create_run(experiment=experiment, run_name="bare", tags=[])

    record = get_run_record(default_workspace, run.uuid)

    assert (record.run_id, record.name, record.experiment_id) == (run.uuid, "bare", str(experiment.number))
    assert record.start_time == run.start_time and record.end_time is None
    assert record.params == record.metrics == [] and record.dataset_inputs == []
    assert [key for key, _ in record.tags] == ["mlflow.runName"]


def test_a_run_reads_as_a_page_of_runs_reads_it(default_workspace, experiment):
    run = create_run(experiment=experiment, run_name="full")
    log_batch(
        run=run,
        batch=Batch(
            metrics=[MetricPoint(f"m{i}", i / 2, 10, i) for i in range(5)]
            + [MetricPoint("nan", float("nan"), 1, 0)],
            params=[(f"p{i}", f"v{i}") for i in range(7)],
            tags=[("team", "a"), ("quote", "it's")],
        ),
    )
    log_outputs(run=run, models=[("m-out", 3)])

    record = get_run_record(default_workspace, run.uuid)
    [paged] = load_runs([run.pk])

    assert sorted(record.params) == sorted(paged.params) == [(f"p{i}", f"v{i}") for i in range(7)]
    assert sorted(record.tags) == sorted(paged.tags)
    assert sorted(record.metrics, key=str) == sorted(paged.metrics, key=str)
    assert len(record.metrics) == 6 and record.model_outputs == [("m-out", 3)]
    assert record.start_time == paged.start_time


def test_a_run_of_another_workspace_or_no_run_is_not_found(default_workspace, make_workspace, experiment):
    run = create_run(experiment=experiment)
    other = make_workspace("elsewhere")

    for workspace, run_id in ((other, run.uuid), (default_workspace, "0" * 32)):
        with pytest.raises(ResourceDoesNotExist, match=f"Run with id={run_id} not found"):
            get_run_record(workspace, run_id)
