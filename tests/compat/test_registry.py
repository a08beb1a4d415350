"""The model registry through the real MLflow client: registering, finding, loading and managing models."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry.models import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    features = rng.random((60, 4))
    return features, (features[:, 0] + features[:, 1] > 1).astype(int)


@pytest.fixture
def trained(fluent, data, artifact_root):
    """A run that logged a scikit-learn model and registered it as `my-model` version 1."""
    from sklearn.linear_model import LogisticRegression

    features, labels = data
    fluent.set_experiment("registry")
    with fluent.start_run() as run:
        model = LogisticRegression().fit(features, labels)
        info = fluent.sklearn.log_model(
            model,
            name="model",
            input_example=features[:3],
            registered_model_name="my-model",
            pip_requirements=["scikit-learn"],
        )
    return run, model, info


def error_code(excinfo) -> str:
    return excinfo.value.error_code


def test_the_seed_flow_registers_finds_and_loads_a_model_by_version_alias_stage_and_latest(
    fluent, client, data, trained
):
    run, model, _ = trained
    features, _ = data
    registered = fluent.register_model(f"runs:/{run.info.run_id}/model", "my-model")
    assert registered.version == "2"

    [found] = client.search_registered_models(filter_string="name = 'my-model'")
    assert {v.version for v in found.latest_versions} == {"2"}
    first = client.get_model_version("my-model", "1")
    assert first.run_id == run.info.run_id
    assert first.status == "READY"
    assert client.get_model_version("my-model", "2").run_id == run.info.run_id

    client.set_registered_model_alias("my-model", "champion", "1")
    client.transition_model_version_stage("my-model", "2", "Production")
    expected = model.predict(features)
    for uri in (
        "models:/my-model/1",
        "models:/my-model@champion",
        "models:/my-model/Production",
        "models:/my-model/latest",
    ):
        loaded = fluent.pyfunc.load_model(uri)
        assert (loaded.predict(features) == expected).all(), uri


def test_a_registration_from_a_logged_model_is_recorded_on_the_logged_model(client, trained):
    _, _, info = trained
    tags = client.get_logged_model(info.model_id).tags
    assert '"name": "my-model"' in tags["mlflow.modelVersions"]


def test_a_version_keeps_the_mlmodel_it_was_registered_with(client, trained):
    version = ModelVersion.objects.get(registered_model__name="my-model", version=1)
    assert version.status == "READY"
    assert set(version.flavors) == {"python_function", "sklearn"}
    assert version.signature_inputs[0]["tensor-spec"]["shape"] == [-1, 4]
    assert version.signature_outputs
    assert "scikit-learn" in version.requirements
    assert version.python_env and version.conda_env
    files = dict(version.files)
    assert {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml"} <= set(files)
    assert files["MLmodel"] > 0
    assert version.artifact_size == sum(files.values())
    assert version.input_example
    assert version.model_id and version.lineage_run is not None


def test_a_version_outlives_its_run_and_experiment(fluent, client, data, trained):
    run, model, _ = trained
    features, _ = data
    client.delete_run(run.info.run_id)
    client.delete_experiment(run.info.experiment_id)

    loaded = fluent.pyfunc.load_model("models:/my-model/1")
    assert (loaded.predict(features) == model.predict(features)).all()
    assert client.get_model_version("my-model", "1").run_id == run.info.run_id


def test_every_registered_model_call_works_and_answers_mlflow_errors(client):
    created = client.create_registered_model("alpha", tags={"team": "a"}, description="first")
    assert created.name == "alpha"
    assert created.tags == {"team": "a"}
    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model("alpha")
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"

    client.update_registered_model("alpha", description="second")
    client.set_registered_model_tag("alpha", "stage", "dev")
    client.delete_registered_model_tag("alpha", "team")
    client.delete_registered_model_tag("alpha", "never-set")
    fetched = client.get_registered_model("alpha")
    assert fetched.description == "second"
    assert fetched.tags == {"stage": "dev"}

    client.rename_registered_model("alpha", "beta")
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model("alpha")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_registered_model("beta").tags == {"stage": "dev"}
    client.create_registered_model("gamma")
    with pytest.raises(MlflowException) as excinfo:
        client.rename_registered_model("beta", "gamma")
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"

    client.delete_registered_model("beta")
    with pytest.raises(MlflowException) as excinfo:
        client.delete_registered_model("beta")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


@pytest.fixture
def versions(client, artifact_root):
    """`versioned` with three READY versions registered from one run's `model` folder."""
    experiment_id = client.create_experiment("versions")
    run = client.create_run(experiment_id)
    client.log_text(run.info.run_id, "artifact_path: model\nflavors: {}\n", "model/MLmodel")
    client.create_registered_model("versioned")
    source = f"{run.info.artifact_uri}/model"
    for _ in range(3):
        client.create_model_version("versioned", source, run_id=run.info.run_id)
    return run


def test_every_model_version_call_works_and_answers_mlflow_errors(client, versions):
    run = versions
    assert client.get_model_version("versioned", "3").source == f"{run.info.artifact_uri}/model"
    client.update_model_version("versioned", "1", description="the first")
    assert client.get_model_version("versioned", "1").description == "the first"
    client.set_model_version_tag("versioned", "1", "checked", "yes")
    client.delete_model_version_tag("versioned", "1", "never-set")
    assert client.get_model_version("versioned", "1").tags == {"checked": "yes"}
    client.delete_model_version_tag("versioned", "1", "checked")
    assert client.get_model_version("versioned", "1").tags == {}

    staged = client.transition_model_version_stage("versioned", "1", "staging")
    assert staged.current_stage == "Staging"
    client.transition_model_version_stage("versioned", "2", "Staging", archive_existing_versions=True)
    assert client.get_model_version("versioned", "1").current_stage == "Archived"
    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage("versioned", "2", "Shipped")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"

    latest = client.get_latest_versions("versioned")
    assert {(v.version, v.current_stage) for v in latest} == {
        ("1", "Archived"),
        ("2", "Staging"),
        ("3", "None"),
    }
    assert [v.version for v in client.get_latest_versions("versioned", stages=["Staging"])] == ["2"]

    uri = client.get_model_version_download_uri("versioned", "3")
    assert uri == f"{run.info.artifact_uri}/model"

    for unknown in (("versioned", "9"), ("nobody", "1")):
        with pytest.raises(MlflowException) as excinfo:
            client.get_model_version(*unknown)
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_latest_versions("nobody")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    copied = client.copy_model_version("models:/versioned/3", "copied")
    assert (copied.name, copied.version, copied.source) == ("copied", "1", "models:/versioned/3")
    assert copied.run_id == run.info.run_id
    assert client.get_model_version_download_uri("copied", "1") == uri


def test_version_numbers_are_never_reused_after_a_delete(client, versions):
    client.delete_model_version("versioned", "3")
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version("versioned", "3")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    again = client.create_model_version(
        "versioned", f"{versions.info.artifact_uri}/model", run_id=versions.info.run_id
    )
    assert again.version == "4"


def test_clients_registering_versions_of_one_model_at_once_get_distinct_consecutive_numbers(
    tracking_uri, versions
):
    source, run_id = f"{versions.info.artifact_uri}/model", versions.info.run_id

    def register(tagged: int) -> list[str]:
        # A client of its own per thread: its own connections, as separate training jobs have.
        own = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        return [
            own.create_model_version("versioned", source, run_id=run_id, tags={"by": str(tagged)}).version
            for _ in range(5)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = [number for numbers in pool.map(register, range(8)) for number in numbers]

    # `versions` registered 1-3; the 40 registrations took 4-43, each once.
    assert sorted(int(number) for number in answered) == list(range(4, 44))
    stored = ModelVersion.objects.filter(registered_model__name="versioned").order_by("version")
    assert [version.version for version in stored] == list(range(1, 44))
    tagged = ModelVersionTag.objects.filter(version__registered_model__name="versioned", key="by")
    assert sorted(tagged.values_list("value", flat=True)) == sorted(
        str(t) for t in range(8) for _ in range(5)
    )


def test_aliases_are_set_moved_read_and_deleted(client, versions):
    client.set_registered_model_alias("versioned", "champion", "1")
    client.set_registered_model_alias("versioned", "champion", "2")
    assert client.get_model_version_by_alias("versioned", "champion").version == "2"
    assert client.get_registered_model("versioned").aliases == {"champion": "2"}
    assert client.get_model_version("versioned", "2").aliases == ["champion"]
    assert client.get_model_version_by_alias("versioned", "latest").version == "3"

    for reserved in ("latest", "v1", "V12"):
        with pytest.raises(MlflowException) as excinfo:
            client.set_registered_model_alias("versioned", reserved, "1")
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_alias("versioned", "ghost", "9")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias("versioned", "ghost")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"

    client.delete_registered_model_alias("versioned", "champion")
    client.delete_registered_model_alias("versioned", "never-set")
    assert client.get_registered_model("versioned").aliases == {}
    assert not RegisteredModelAlias.objects.exists()


def test_deleting_a_version_deletes_its_aliases(client, versions):
    client.set_registered_model_alias("versioned", "champion", "1")
    client.delete_model_version("versioned", "1")
    assert client.get_registered_model("versioned").aliases == {}


def test_search_filters_and_pages_registered_models_and_versions(client, versions):
    for name in ("search-a", "search-b", "other"):
        client.create_registered_model(name, tags={"kind": "search" if name != "other" else "misc"})
    names = [m.name for m in client.search_registered_models(filter_string="name LIKE 'search-%'")]
    assert names == ["search-a", "search-b"]
    assert [m.name for m in client.search_registered_models(filter_string="tags.kind = 'misc'")] == ["other"]
    assert [m.name for m in client.search_registered_models(filter_string="tags.kind != 'misc'")] == [
        "search-a",
        "search-b",
    ]
    first = client.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in first] == ["versioned", "search-b"]
    second = client.search_registered_models(max_results=2, order_by=["name DESC"], page_token=first.token)
    assert [m.name for m in second] == ["search-a", "other"]

    run_id = versions.info.run_id
    assert len(client.search_model_versions(f"run_id = '{run_id}'")) == 3
    assert [
        v.version for v in client.search_model_versions("name = 'versioned' AND version_number >= 2")
    ] == [
        "3",
        "2",
    ]
    client.set_model_version_tag("versioned", "2", "approved", "yes")
    assert [v.version for v in client.search_model_versions("tags.approved = 'yes'")] == ["2"]
    assert len(client.search_model_versions("source_path LIKE 'mlflow-artifacts:%'")) == 3
    page = client.search_model_versions("name = 'versioned'", max_results=2, order_by=["version_number ASC"])
    assert [v.version for v in page] == ["1", "2"]
    rest = client.search_model_versions(
        "name = 'versioned'", max_results=2, order_by=["version_number ASC"], page_token=page.token
    )
    assert [v.version for v in rest] == ["3"]
    with pytest.raises(MlflowException) as excinfo:
        client.search_model_versions("stage = 'Production'")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_a_model_folder_without_mlmodel_fails_registration_with_a_readable_message(client, artifact_root):
    experiment_id = client.create_experiment("broken")
    run = client.create_run(experiment_id)
    client.log_text(run.info.run_id, "not a model", "model/notes.txt")
    client.log_text(run.info.run_id, "flavors: [unclosed", "bad/MLmodel")
    client.create_registered_model("broken")

    with pytest.raises(MlflowException, match="There is no MLmodel file"):
        client.create_model_version("broken", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    with pytest.raises(MlflowException, match="not valid YAML"):
        client.create_model_version("broken", f"{run.info.artifact_uri}/bad", run_id=run.info.run_id)
    failed = client.get_model_version("broken", "1")
    assert failed.status == "FAILED_REGISTRATION"
    assert "There is no MLmodel file" in failed.status_message


def test_bad_input_is_refused_with_mlflow_errors_and_registers_nothing(client, tracking_uri, versions):
    api = f"{tracking_uri}/api/2.0/mlflow"
    bad_models = [
        {"name": "a/b"},
        {"name": ""},
        {"name": "  "},
        {"name": "tagged", "tags": [{"key": "k" * 251, "value": "v"}]},
        {"name": "tagged", "tags": [{"key": "k", "value": "v" * 100_001}]},
    ]
    for body in bad_models:
        response = requests.post(f"{api}/registered-models/create", json=body, timeout=30)
        assert response.status_code == 400, body
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert list(RegisteredModel.objects.values_list("name", flat=True)) == ["versioned"]
    tag_count = RegisteredModelTag.objects.count()

    run = versions
    other_run = client.create_run(run.info.experiment_id)
    bad_versions = [
        {"source": f"{other_run.info.artifact_uri}/model", "run_id": run.info.run_id},
        {"source": f"{run.info.artifact_uri}/model"},
        {"source": f"{run.info.artifact_uri}/../../x/model", "run_id": run.info.run_id},
        {"source": "/etc/passwd", "run_id": run.info.run_id},
        {"source": f"runs:/{other_run.info.run_id}/model", "run_id": run.info.run_id},
        {"source": "models:/m-unknown", "model_id": "m-other"},
        {"source": "file:///etc/passwd"},
        {"source": "model/dir"},
        {
            "source": f"{run.info.artifact_uri}/model",
            "run_id": run.info.run_id,
            "tags": [{"key": "../k", "value": ""}],
        },
    ]
    for body in bad_versions:
        response = requests.post(
            f"{api}/model-versions/create", json={"name": "versioned", **body}, timeout=30
        )
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "message" in response.json()
    assert ModelVersion.objects.count() == 3
    assert RegisteredModel.objects.get(name="versioned").last_version_number == 3
    for key, value in (("k" * 251, "v"), ("k", "v" * 100_001)):
        with pytest.raises(MlflowException) as excinfo:
            client.set_registered_model_tag("versioned", key, value)
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException) as excinfo:
            client.set_model_version_tag("versioned", "1", key, value)
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert RegisteredModelTag.objects.count() == tag_count


def test_models_stored_elsewhere_register_ready_as_references_as_in_mlflow(client, tracking_uri):
    """A run, logged model or registered model of another server, or files on another store: the
    version names them (its download URI is the source) and is READY at once, as from MLflow."""
    client.create_registered_model("referenced")
    sources = [
        ("runs:/0123456789abcdef0123456789abcdef/model", {"run_id": "0123456789abcdef0123456789abcdef"}),
        ("models:/m-0123456789abcdef", {"model_id": "m-0123456789abcdef"}),
        ("s3://bucket/models/m", {}),
        ("gs://bucket/models/m", {}),
        ("wasbs://c@account.blob.core.windows.net/m", {}),
        ("https://models.example.com/m", {}),
        ("dbfs:/databricks/models/m", {}),
    ]
    for number, (source, ids) in enumerate(sources, start=1):
        version = client.create_model_version("referenced", source, **ids)
        assert (version.version, version.status, version.source) == (str(number), "READY", source)
        assert client.get_model_version_download_uri("referenced", version.version) == source
    experiment_id = client.create_experiment("empty-logged-model")
    logged = client.create_logged_model(experiment_id, name="empty")
    version = client.create_model_version(
        "referenced", f"models:/{logged.model_id}", model_id=logged.model_id
    )
    assert version.status == "READY"
    for local in ("/srv/models/m", "file:///srv/models/m", "models/m"):
        response = requests.post(
            f"{tracking_uri}/api/2.0/mlflow/model-versions/create",
            json={"name": "referenced", "source": local},
            timeout=30,
        )
        assert response.status_code == 400 and "local path" in response.json()["message"], local


def test_a_model_registered_in_a_workspace_is_invisible_from_the_root_uri(
    tracking_uri, make_workspace, versions
):
    make_workspace("team-a")
    # The registry URI is given too: MlflowClient otherwise takes the process-wide one.
    scoped = MlflowClient(f"{tracking_uri}/ws/team-a", registry_uri=f"{tracking_uri}/ws/team-a")
    root = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    scoped.create_registered_model("private")
    experiment_id = scoped.create_experiment("private-runs")
    run = scoped.create_run(experiment_id)
    scoped.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
    version = scoped.create_model_version("private", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    assert version.status == "READY"

    assert [m.name for m in root.search_registered_models()] == ["versioned"]
    assert [m.name for m in scoped.search_registered_models()] == ["private"]
    with pytest.raises(MlflowException) as excinfo:
        root.get_registered_model("private")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert root.search_model_versions("name = 'private'") == []
    # The root workspace's run cannot be registered from the scoped URI, nor the other way round.
    with pytest.raises(MlflowException) as excinfo:
        scoped.create_model_version(
            "private", f"{versions.info.artifact_uri}/model", run_id=versions.info.run_id
        )
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_the_files_of_a_registered_version_cannot_be_deleted_under_it(fluent, client, tracking_uri, tmp_path):
    """Found in a review: a Contributor purged their own run, and the version registered from it
    stayed READY with its files gone. Purging the run, or deleting the model's folder or a file
    in it, is refused until the version is deleted; the dry run says why."""
    import requests

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: kept\n")
    fluent.set_experiment("kept-files")
    with fluent.start_run() as run:
        fluent.log_artifacts(str(folder), "model")
    run_id, experiment_id = run.info.run_id, run.info.experiment_id
    assert fluent.register_model(f"runs:/{run_id}/model", "kept").version == "1"
    deletions = f"{tracking_uri}/api/studio/v1/deletions"
    artifacts = f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts"

    dry = requests.post(deletions, json={"kind": "run", "name": run_id, "dry_run": True}, timeout=30).json()
    refused = requests.post(deletions, json={"kind": "run", "name": run_id, "confirm": run_id}, timeout=30)
    folder_refused = requests.delete(f"{artifacts}/model", timeout=30)
    file_refused = requests.delete(f"{artifacts}/model/MLmodel", timeout=30)

    assert dry["plan"]["blockers"] == [
        "1 registered model version(s) (kept v1) keep their files in this run's artifacts. "
        "Delete those versions of kept first."
    ]
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    for answer in (folder_refused, file_refused):
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_STATE")
    assert "kept v1" in file_refused.json()["message"]
    assert requests.get(f"{artifacts}/model/MLmodel", timeout=30).text.startswith("flavors:")

    client.delete_model_version("kept", "1")
    assert requests.delete(f"{artifacts}/model", timeout=30).status_code == 200
    accepted = requests.post(deletions, json={"kind": "run", "name": run_id, "confirm": run_id}, timeout=30)
    assert accepted.status_code == 202
