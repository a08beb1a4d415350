"""Search and batch endpoints cost a fixed number of queries, whatever the size of the answer."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from tracking.models import ExperimentKey, MetricSummary, Run
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, DatasetSpec, create_run, log_batch, log_inputs, log_outputs


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
    post(client, "runs/log-batch", {"run_id": run.uuid})  # the workspace is cached now
    with django_assert_max_num_queries(12):
        response = post(client, "runs/log-batch", body)
    assert response.status_code == 200, response.content


def test_search_experiments_reads_a_page_and_its_tags_in_one_query(
    client, default_workspace, django_assert_num_queries
):
    for i in range(30):
        create_experiment(workspace=default_workspace, name=f"e{i}", tags=[("k", "v")])
    # The page with its tags, and the workspace's look-up (cached in a process serving requests).
    with django_assert_num_queries(2):
        response = client.get("/api/2.0/mlflow/experiments/search", {"max_results": 100})
    assert len(response.json()["experiments"]) == 31


def test_get_run_reads_a_run_with_all_its_data_in_one_query(client, experiment, django_assert_num_queries):
    run = create_run(experiment=experiment, run_name="full")
    log_batch(
        run=run,
        batch=Batch(metrics=[MetricPoint("loss", 0.5, 10, 1)], params=[("lr", "0.1")], tags=[("team", "a")]),
    )
    dataset = DatasetSpec(
        name="train",
        digest="d1",
        source_type="local",
        source="/data",
        tags=(("mlflow.data.context", "training"),),
    )
    log_inputs(run=run, datasets=[dataset], model_ids=["m-in"])
    log_outputs(run=run, models=[("m-out", 3)])
    client.get("/api/2.0/mlflow/runs/get", {"run_id": run.uuid})  # the workspace is cached now
    # The run's row, found by its id in the workspace, beside each of its params, tags, metrics,
    # datasets and model links (one UNION ALL).
    with django_assert_num_queries(1):
        response = client.get("/api/2.0/mlflow/runs/get", {"run_id": run.uuid})
    answer = response.json()["run"]
    assert answer["info"]["run_name"] == "full"
    assert answer["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert {"key": "team", "value": "a"} in answer["data"]["tags"]
    assert [(m["key"], m["value"], m["step"]) for m in answer["data"]["metrics"]] == [("loss", 0.5, 1)]
    [dataset_input] = answer["inputs"]["dataset_inputs"]
    assert dataset_input["dataset"]["name"] == "train" and dataset_input["dataset"]["source"] == "/data"
    assert dataset_input["tags"] == [{"key": "mlflow.data.context", "value": "training"}]
    assert answer["inputs"]["model_inputs"] == [{"model_id": "m-in"}]
    assert answer["outputs"]["model_outputs"] == [{"model_id": "m-out", "step": 3}]


def test_log_metric_on_postgresql_is_one_statement_after_the_run_look_up(
    client, experiment, django_assert_num_queries, django_capture_on_commit_callbacks
):
    run = create_run(experiment=experiment)
    body = {"run_id": run.uuid, "key": "loss", "value": 1.0, "timestamp": 0, "step": 0}
    # The workspace is cached, and the experiment's change mark noted for the next second.
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "runs/log-metric", body)
    # PostgreSQL: the run, then the key, the point and the summary in one statement that is its own
    # transaction (no savepoint here, no BEGIN and COMMIT outside a test). SQLite: the savepoint
    # pair around the key, the point and the summary; the point's INSERT goes to sqlite3 itself,
    # past Django's count.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 5):
        response = post(client, "runs/log-metric", {**body, "value": 0.5, "step": 1})
    assert response.status_code == 200, response.content
    summary = MetricSummary.objects.get(run=run, key="loss")
    assert (summary.value, summary.step, summary.min_value, summary.count) == (0.5, 1, 0.5, 2)


def test_set_tag_on_postgresql_is_one_statement_after_the_run_look_up(
    client, experiment, django_assert_num_queries, django_capture_on_commit_callbacks
):
    run = create_run(experiment=experiment)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "runs/set-tag", {"run_id": run.uuid, "key": "team", "value": "a"})
    # PostgreSQL: the run, then the tag and its key's registration in one statement. SQLite: the
    # savepoint pair around the tag and the key.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 5):
        response = post(client, "runs/set-tag", {"run_id": run.uuid, "key": "owner", "value": "b" * 9000})
    assert response.status_code == 200, response.content
    assert dict(run.tags.values_list("key", "value")) == {
        "mlflow.runName": run.name,
        "team": "a",
        "owner": "b" * 8000,
    }
    registered = ExperimentKey.objects.filter(experiment=experiment, kind=ExperimentKey.TAG)
    assert set(registered.values_list("key", flat=True)) == {"team", "owner"}


def test_log_param_on_postgresql_is_one_statement_after_the_run_look_up(
    client, experiment, django_assert_num_queries, django_capture_on_commit_callbacks
):
    run = create_run(experiment=experiment)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "runs/log-parameter", {"run_id": run.uuid, "key": "lr", "value": "0.1"})
    # PostgreSQL: the run, then the param, its key's registration and the value held before, in
    # one statement. SQLite: the savepoint pair around the param and the key.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 5):
        response = post(
            client, "runs/log-parameter", {"run_id": run.uuid, "key": "layers", "value": "x" * 7000}
        )
    assert response.status_code == 200, response.content
    # Logging a param again with its value is a no-op; with another value, a refusal that writes
    # nothing. SQLite reads the value held once the INSERT has added nothing.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 6):
        assert (
            post(client, "runs/log-parameter", {"run_id": run.uuid, "key": "lr", "value": "0.1"}).status_code
            == 200
        )
    refused = post(client, "runs/log-parameter", {"run_id": run.uuid, "key": "lr", "value": "0.2"})
    assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert refused.json()["message"] == (
        f"Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' "
        f"for run ID='{run.uuid}'. Attempted logging new value '0.2'."
    )
    assert dict(run.params.values_list("key", "value")) == {"lr": "0.1", "layers": "x" * 6000}
    registered = ExperimentKey.objects.filter(experiment=experiment, kind=ExperimentKey.PARAM)
    assert set(registered.values_list("key", flat=True)) == {"lr", "layers"}


def test_create_run_on_postgresql_is_one_statement_after_the_experiment_look_up(
    client, experiment, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "runs/create", {"experiment_id": experiment.experiment_id, "run_name": "first"})
    body = {
        "experiment_id": experiment.experiment_id,
        "run_name": "second",
        "start_time": 1_764_000_000_123,
        "tags": [{"key": "team", "value": "a"}, {"key": "mlflow.user", "value": "ada"}],
    }
    # PostgreSQL: the experiment, then the run, its tags and their keys in one statement. SQLite:
    # the savepoint pair around the run, its tags and their keys. The answer is what was written:
    # nothing is read back.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 6):
        response = post(client, "runs/create", body)
    assert response.status_code == 200, response.content
    answer = response.json()["run"]
    run = Run.objects.get(uuid=answer["info"]["run_id"])
    assert answer == {
        "info": {
            "run_id": run.uuid,
            "run_uuid": run.uuid,
            "run_name": "second",
            "experiment_id": experiment.experiment_id,
            "user_id": "",
            "status": "RUNNING",
            "start_time": 1_764_000_000_123,
            "artifact_uri": run.artifact_uri,
            "lifecycle_stage": "active",
        },
        "data": {
            "tags": [
                {"key": "team", "value": "a"},
                {"key": "mlflow.user", "value": "ada"},
                {"key": "mlflow.runName", "value": "second"},
            ]
        },
        "inputs": {},
    }
    stored = client.get("/api/2.0/mlflow/runs/get", {"run_id": run.uuid}).json()["run"]
    assert stored["info"] == answer["info"]
    assert sorted(map(tuple, map(dict.values, stored["data"]["tags"]))) == sorted(
        map(tuple, map(dict.values, answer["data"]["tags"]))
    )
    registered = ExperimentKey.objects.filter(experiment=experiment, kind=ExperimentKey.TAG)
    assert set(registered.values_list("key", flat=True)) == {"team"}


def test_search_experiments_answers_each_experiment_s_tags_by_key_whatever_their_text(
    client, default_workspace
):
    """A page's tags come with its rows, as JSON the database writes: quotes, backslashes and
    JSON-looking or non-ASCII text come back as they went in."""
    tags = [
        ("quote", 'say "hi"'),
        ("backslash", "a\\b\\"),
        ("json", '{"a": [1, null]}'),
        ("text", "ünï ✓ \n"),
    ]
    create_experiment(workspace=default_workspace, name="tagged", tags=tags)
    create_experiment(workspace=default_workspace, name="bare")

    response = client.get("/api/2.0/mlflow/experiments/search", {"filter": "name != 'Default'"})

    found = {e["name"]: e.get("tags", []) for e in response.json()["experiments"]}
    assert found == {"tagged": [{"key": k, "value": v} for k, v in sorted(tags)], "bare": []}


def test_experiment_tags_reads_more_experiments_than_one_query_takes(default_workspace, monkeypatch):
    from tracking.queries import experiments as experiment_queries

    monkeypatch.setattr(experiment_queries, "_TAG_READ_CHUNK", 2)
    experiments = [
        create_experiment(
            workspace=default_workspace, name=f"chunked{i}", tags=[("i", str(i)), ("z", "last")]
        )
        for i in range(5)
    ]

    tags = experiment_queries.experiment_tags(experiments)

    assert [tags[e.pk] for e in experiments] == [[("i", str(i)), ("z", "last")] for i in range(5)]
