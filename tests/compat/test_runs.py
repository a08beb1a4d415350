"""MlflowClient's run calls: lifecycle, params, tags, metrics, batches, inputs, nesting."""

from __future__ import annotations

import math
import time

import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException, RestException


@pytest.fixture
def experiment_id(client) -> str:
    return client.create_experiment("runs")


def test_it_creates_a_run_with_a_name_tags_and_start_time(client, experiment_id):
    run = client.create_run(experiment_id, start_time=1_700_000_000_123, tags={"team": "a"}, run_name="first")

    assert run.info.run_name == "first"
    assert run.info.start_time == 1_700_000_000_123
    assert run.info.status == "RUNNING"
    assert run.info.lifecycle_stage == "active"
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"
    fetched = client.get_run(run.info.run_id)
    assert fetched.data.tags == {"team": "a", "mlflow.runName": "first"}
    assert fetched.info.end_time is None


def test_a_run_without_a_name_gets_a_generated_one(client, experiment_id):
    run = client.create_run(experiment_id)
    assert run.info.run_name
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


def test_it_finishes_renames_and_terminates_runs(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.update_run(run_id, name="renamed")
    client.set_terminated(run_id, status="FAILED", end_time=1_800_000_000_000)

    run = client.get_run(run_id)
    assert run.info.run_name == "renamed"
    assert run.data.tags["mlflow.runName"] == "renamed"
    assert run.info.status == RunStatus.to_string(RunStatus.FAILED)
    assert run.info.end_time == 1_800_000_000_000


def test_setting_the_run_name_tag_renames_the_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "mlflow.runName", "by-tag")
    assert client.get_run(run_id).info.run_name == "by-tag"


def test_it_deletes_and_restores_a_run_and_refuses_writes_while_deleted(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(RestException) as excinfo:
        client.log_metric(run_id, "m", 1.0)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"

    client.restore_run(run_id)
    client.log_metric(run_id, "m", 1.0)
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


def test_params_are_immutable_but_may_be_logged_again_unchanged(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", 0.01)
    client.log_param(run_id, "lr", 0.01)
    with pytest.raises(MlflowException) as excinfo:
        client.log_param(run_id, "lr", 0.02)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params == {"lr": "0.01"}


def test_over_long_param_and_tag_values_are_truncated_as_mlflow_does(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, params=[Param("long", "p" * 7000)], tags=[RunTag("long", "t" * 9000)])
    data = client.get_run(run_id).data
    assert data.params["long"] == "p" * 6000
    assert data.tags["long"] == "t" * 8000


def test_it_sets_and_deletes_tags(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "k", "v1")
    client.set_tag(run_id, "k", "v2")
    client.set_tag(run_id, "empty", "")
    assert client.get_run(run_id).data.tags["k"] == "v2"
    assert client.get_run(run_id).data.tags["empty"] == ""
    client.delete_tag(run_id, "k")
    assert "k" not in client.get_run(run_id).data.tags
    with pytest.raises(RestException) as excinfo:
        client.delete_tag(run_id, "k")
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_the_latest_metric_value_is_the_one_with_the_highest_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    client.log_metric(run_id, "loss", 0.5, timestamp=now + 10, step=3)
    client.log_metric(run_id, "loss", 0.9, timestamp=now + 20, step=1)
    client.log_metric(run_id, "loss", 0.7, timestamp=now, step=3)
    assert client.get_run(run_id).data.metrics["loss"] == 0.5
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(3, 0.7), (3, 0.5), (1, 0.9)]


def test_nan_and_infinite_values_round_trip(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "nan", float("nan"))
    client.log_metric(run_id, "inf", float("inf"))
    client.log_metric(run_id, "-inf", float("-inf"))
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf
    assert metrics["-inf"] == -math.inf
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)


def test_log_batch_writes_metrics_params_and_tags_together(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("acc", i / 10, now + i, i) for i in range(10)],
        params=[Param("depth", "3"), Param("opt", "adam")],
        tags=[RunTag("phase", "train")],
    )
    run = client.get_run(run_id)
    assert run.data.metrics == {"acc": 0.9}
    assert run.data.params == {"depth": "3", "opt": "adam"}
    assert run.data.tags["phase"] == "train"
    assert len(client.get_metric_history(run_id, "acc")) == 10


def test_a_rejected_batch_writes_nothing(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "fixed", "1")
    with pytest.raises(MlflowException) as excinfo:
        client.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, 0, 0)],
            params=[Param("new", "x"), Param("fixed", "2")],
            tags=[RunTag("t", "v")],
        )
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    data = client.get_run(run_id).data
    assert data.params == {"fixed": "1"}
    assert data.metrics == {}
    assert "t" not in data.tags


def test_a_10000_step_history_reads_back_whole_and_in_order(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    for start in range(0, 10_000, 1000):
        client.log_batch(
            run_id, metrics=[Metric("curve", s * 0.5, now + s, s) for s in range(start, start + 1000)]
        )
    history = client.get_metric_history(run_id, "curve")
    assert [m.step for m in history] == list(range(10_000))
    assert all(m.value == m.step * 0.5 for m in history)


def test_nested_runs_carry_their_parent(fluent, client):
    mlflow = fluent
    mlflow.set_experiment("nested")
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        mlflow.log_param("fold", 1)
    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    found = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [run.info.run_id for run in found] == [child.info.run_id]


def test_log_input_records_a_dataset_with_its_context(fluent, client):
    import pandas as pd

    mlflow = fluent
    mlflow.set_experiment("datasets")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="toy", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("toy", dataset.digest)]
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
    found = client.search_runs([run.info.experiment_id], "datasets.context = 'training'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_unknown_runs_are_not_found(client):
    with pytest.raises(RestException) as excinfo:
        client.get_run("0" * 32)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(RestException) as excinfo:
        client.log_param("f" * 32, "a", "b")
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_the_metric_history_of_an_unknown_run_is_empty_as_in_mlflow(client):
    assert client.get_metric_history("0" * 32, "missing") == []
