"""The reads behind MLflow's UI routes: bulk histories and dataset summaries, each one query."""

from __future__ import annotations

import pytest

from tracking.errors import InvalidParameterValue
from tracking.queries.datasets import search_datasets
from tracking.queries.metrics import get_metric_history_bulk
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, DatasetSpec, create_run, log_batch, log_inputs


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="ui-reads")


def test_bulk_histories_of_many_runs_are_one_query(default_workspace, experiment, django_assert_num_queries):
    runs = [create_run(experiment=experiment) for _ in range(5)]
    for run in runs:
        log_batch(run=run, batch=Batch(metrics=[MetricPoint("loss", 0.1 * s, s, s) for s in range(3)]))
    with django_assert_num_queries(1):
        rows = get_metric_history_bulk(default_workspace, [run.uuid for run in runs], "loss")
    assert len(rows) == 15
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)


def test_bulk_histories_leave_out_another_workspace_s_runs(default_workspace, experiment, make_workspace):
    run = create_run(experiment=experiment)
    log_batch(run=run, batch=Batch(metrics=[MetricPoint("loss", 1.0, 0, 0)]))
    assert get_metric_history_bulk(make_workspace("elsewhere"), [run.uuid], "loss") == []
    with pytest.raises(InvalidParameterValue, match="must specify a metric_key"):
        get_metric_history_bulk(default_workspace, [run.uuid], None)


def test_dataset_summaries_are_distinct_per_context_and_one_query(
    default_workspace, experiment, django_assert_num_queries
):
    train = DatasetSpec("iris", "d1", "local", "{}", tags=(("mlflow.data.context", "train"),))
    plain = DatasetSpec("iris", "d1", "local", "{}")
    for spec in (train, train, plain):
        log_inputs(run=create_run(experiment=experiment), datasets=[spec])
    with django_assert_num_queries(1):
        summaries = search_datasets(default_workspace, [experiment.experiment_id])
    assert [(s.name, s.digest, s.context) for s in summaries] == [("iris", "d1", ""), ("iris", "d1", "train")]
    with pytest.raises(InvalidParameterValue, match="cannot specify more than 20 experiment_ids"):
        search_datasets(default_workspace, [str(i) for i in range(21)])
