"""Logged models (MLflow 3): log_model, load_model by run and by model id, autolog, the logged-model API."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from mlflow.exceptions import MlflowException

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    features = rng.random((60, 4))
    return features, (features[:, 0] + features[:, 1] > 1).astype(int)


def test_sklearn_log_model_loads_back_by_run_and_by_model_id(fluent, client, data, artifact_root):
    from sklearn.linear_model import LogisticRegression

    features, labels = data
    fluent.set_experiment("models")
    with fluent.start_run() as run:
        fluent.log_metric("train_accuracy", 0.9)
        model = LogisticRegression().fit(features, labels)
        info = fluent.sklearn.log_model(
            model, name="model", input_example=features[:3], pip_requirements=["scikit-learn"]
        )

    expected = model.predict(features)
    by_run = fluent.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    by_id = fluent.pyfunc.load_model(f"models:/{info.model_id}")
    assert (by_run.predict(features) == expected).all()
    assert (by_id.predict(features) == expected).all()

    logged = client.get_logged_model(info.model_id)
    assert logged.status == "READY"
    assert logged.source_run_id == run.info.run_id
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
    assert {m.key for m in logged.metrics} == {"train_accuracy"}
    files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "conda.yaml", "requirements.txt", "input_example.json"} <= files
    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]


def test_autolog_around_fit_logs_params_metrics_and_a_model(fluent, client, data):
    from sklearn.tree import DecisionTreeClassifier

    features, labels = data
    fluent.set_experiment("autolog")
    fluent.sklearn.autolog(log_input_examples=False, log_model_signatures=True, silent=True)
    try:
        with fluent.start_run() as run:
            DecisionTreeClassifier(max_depth=3).fit(features, labels)
    finally:
        fluent.sklearn.autolog(disable=True)
    logged = client.get_run(run.info.run_id)
    assert logged.data.params["max_depth"] == "3"
    assert "training_accuracy_score" in logged.data.metrics
    [model] = client.search_logged_models([run.info.experiment_id])
    assert model.source_run_id == run.info.run_id


def test_logged_model_api_creates_tags_searches_finalizes_and_deletes(client):
    experiment_id = client.create_experiment("logged-models")
    run = client.create_run(experiment_id)
    first = client.create_logged_model(
        experiment_id,
        name="alpha",
        source_run_id=run.info.run_id,
        params={"depth": "3"},
        tags={"kind": "tree"},
    )
    second = client.create_logged_model(experiment_id, name="beta", model_type="agent")
    assert first.status == "PENDING"
    client.set_logged_model_tags(first.model_id, {"stage": "dev"})
    client.delete_logged_model_tag(first.model_id, "kind")
    client.finalize_logged_model(first.model_id, "READY")

    fetched = client.get_logged_model(first.model_id)
    assert fetched.tags == {"stage": "dev"}
    assert fetched.params == {"depth": "3"}
    assert fetched.status == "READY"
    found = client.search_logged_models([experiment_id], filter_string="name = 'beta'")
    assert [m.model_id for m in found] == [second.model_id]
    found = client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    assert [m.model_id for m in found] == [first.model_id]
    ordered = client.search_logged_models(
        [experiment_id], order_by=[{"field_name": "name", "ascending": False}]
    )
    assert [m.name for m in ordered] == ["beta", "alpha"]

    client.delete_logged_model(second.model_id)
    with pytest.raises(MlflowException) as excinfo:
        client.get_logged_model(second.model_id)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_deleting_a_logged_model_tag_that_does_not_exist_is_resource_does_not_exist(client, tracking_uri):
    experiment_id = client.create_experiment("logged-model-missing-tag")
    model = client.create_logged_model(experiment_id, name="alpha", tags={"kind": "tree"})

    response = requests.delete(
        f"{tracking_uri}/api/2.0/mlflow/logged-models/{model.model_id}/tags/absent", timeout=30
    )

    assert response.status_code == 404
    assert response.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"No tag with key 'absent' found for model with ID '{model.model_id}'.",
    }
    assert client.get_logged_model(model.model_id).tags == {"kind": "tree"}


def test_search_by_datasets_alone_finds_the_models_with_a_metric_on_one_of_them(client):
    experiment_id = client.create_experiment("logged-models-by-dataset")
    run = client.create_run(experiment_id)
    on_train = client.create_logged_model(experiment_id, name="on-train", source_run_id=run.info.run_id)
    on_eval = client.create_logged_model(experiment_id, name="on-eval", source_run_id=run.info.run_id)
    client.create_logged_model(experiment_id, name="no-metrics")
    client.log_metric(
        run.info.run_id, "acc", 0.8, model_id=on_train.model_id, dataset_name="train", dataset_digest="d1"
    )
    client.log_metric(
        run.info.run_id, "acc", 0.9, model_id=on_eval.model_id, dataset_name="eval", dataset_digest="d2"
    )

    def names(**kwargs) -> list[str]:
        return sorted(m.name for m in client.search_logged_models([experiment_id], **kwargs))

    train, evaluation = (
        {"dataset_name": "train", "dataset_digest": "d1"},
        {"dataset_name": "eval", "dataset_digest": "d2"},
    )
    assert names(datasets=[train]) == ["on-train"]
    assert names(datasets=[train, evaluation]) == ["on-eval", "on-train"]
    assert names(datasets=[{"dataset_name": "eval", "dataset_digest": "other"}]) == []
    assert names(datasets=[evaluation], filter_string="metrics.acc > 0.85") == ["on-eval"]
    assert names(datasets=[train], filter_string="metrics.acc > 0.85") == []
    # MLflow's server reads a dataset without a digest as one logged without a digest (which its
    # client never logs): it finds nothing, and neither do we.
    assert names(datasets=[{"dataset_name": "train"}]) == []
    assert names(datasets=[{"dataset_name": "train"}], filter_string="metrics.acc > 0.75") == []
