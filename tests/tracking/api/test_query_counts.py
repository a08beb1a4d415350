"""Search and batch endpoints cost a fixed number of queries, whatever the size of the answer."""

from __future__ import annotations

import json

import pytest

from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch


def post(client, path: str, body: dict):
    return client.post(f"/api/2.0/mlflow/{path}", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="counted")


def populate(experiment, count: int) -> None:
    for i in range(count):
        run = create_run(experiment=experiment, run_name=f"r{i}", tags=[("team", "a")])
        log_batch(
            run=run,
            batch=Batch(
                metrics=[MetricPoint("acc", i / count, 0, 0), MetricPoint("loss", 1 - i / count, 0, 0)],
                params=[("lr", "0.1"), ("depth", str(i))],
                tags=[("kind", "grid")],
            ),
        )


@pytest.mark.parametrize("runs", [3, 40])
def test_search_runs_costs_the_same_queries_for_3_or_40_runs(
    client, experiment, runs, django_assert_max_num_queries
):
    populate(experiment, runs)
    body = {
        "experiment_ids": [experiment.experiment_id],
        "filter": "metrics.acc >= 0 and params.lr = '0.1' and tags.kind = 'grid'",
        "order_by": ["metrics.loss DESC", "params.depth"],
        "max_results": 100,
    }
    with django_assert_max_num_queries(9):
        response = post(client, "runs/search", body)
    assert response.status_code == 200
    assert len(response.json()["runs"]) == runs


def test_log_batch_of_1000_metrics_costs_a_few_queries(client, experiment, django_assert_max_num_queries):
    run = create_run(experiment=experiment)
    body = {
        "run_id": run.uuid,
        "metrics": [{"key": f"m{i % 10}", "value": i, "timestamp": i, "step": i} for i in range(900)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(50)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(50)],
    }
    with django_assert_max_num_queries(12):
        response = post(client, "runs/log-batch", body)
    assert response.status_code == 200, response.content


def test_search_experiments_costs_the_same_queries_for_many_experiments(
    client, default_workspace, django_assert_max_num_queries
):
    for i in range(30):
        create_experiment(workspace=default_workspace, name=f"e{i}", tags=[("k", "v")])
    with django_assert_max_num_queries(4):
        response = client.get("/api/2.0/mlflow/experiments/search", {"max_results": 100})
    assert len(response.json()["experiments"]) == 31
