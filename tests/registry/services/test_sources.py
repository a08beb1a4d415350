"""Checking a new version's source against its run or logged model, and finding its files."""

from __future__ import annotations

import pytest

from registry.services.sources import is_external_source, resolve_source
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.services.logged_models import create_logged_model
from tracking.services.runs import create_run

from ..conftest import MODEL_FILES, register, write_files


@pytest.fixture
def logged(workspace, experiment, run):
    model = create_logged_model(experiment=experiment, name="model", source_run_id=run.uuid)
    write_files(workspace, model.artifact_location, MODEL_FILES)
    return model


def test_a_folder_of_the_runs_artifacts_is_its_own_storage(workspace, run, model_source):
    resolved = resolve_source(workspace, source=model_source, run_id=run.uuid)
    assert (resolved.source, resolved.storage_location, resolved.run_id) == (
        model_source,
        model_source,
        run.uuid,
    )
    assert resolved.run == run
    assert resolved.store_folder(workspace) == f"workspaces/{workspace.pk}/{model_source.split(':/', 1)[1]}"


def test_a_logged_model_uri_stores_the_logged_models_folder_and_its_run(workspace, run, logged):
    resolved = resolve_source(workspace, source=f"models:/{logged.model_id}", model_id=logged.model_id)
    assert resolved.storage_location == logged.artifact_location
    assert (resolved.model_id, resolved.run_id, resolved.logged_model) == (logged.model_id, run.uuid, logged)


def test_a_runs_uri_without_files_falls_back_to_the_logged_model_of_that_name(workspace, run, logged):
    resolved = resolve_source(workspace, source=f"runs:/{run.uuid}/model", run_id=run.uuid)
    assert resolved.source == f"runs:/{run.uuid}/model"
    assert resolved.storage_location == logged.artifact_location
    assert resolved.model_id == logged.model_id


def test_a_runs_uri_with_files_in_the_run_uses_them(workspace, run, model_source, logged):
    resolved = resolve_source(workspace, source=f"runs:/{run.uuid}/model", run_id=run.uuid)
    assert resolved.storage_location == model_source
    assert resolved.model_id == ""


def test_a_runs_uri_of_a_run_not_on_this_server_is_an_external_reference(workspace):
    resolved = resolve_source(workspace, source="runs:/0123/model", run_id="0123")
    assert (resolved.source, resolved.storage_location, resolved.run_id, resolved.run) == (
        "runs:/0123/model",
        "runs:/0123/model",
        "0123",
        None,
    )
    assert resolved.store_folder(workspace) is None
    assert is_external_source(resolved.storage_location)


def test_a_logged_model_not_on_this_server_is_an_external_reference(workspace):
    resolved = resolve_source(workspace, source="models:/m-123", model_id="m-123")
    assert (resolved.storage_location, resolved.model_id, resolved.logged_model) == (
        "models:/m-123",
        "m-123",
        None,
    )
    assert resolved.store_folder(workspace) is None
    assert is_external_source(resolved.storage_location)


def test_a_registered_model_not_on_this_server_is_an_external_reference(workspace):
    resolved = resolve_source(workspace, source="models:/elsewhere/3")
    assert (resolved.source, resolved.storage_location) == ("models:/elsewhere/3", "models:/elsewhere/3")
    assert is_external_source(resolved.storage_location)


def test_a_run_or_logged_model_of_another_workspace_is_only_a_reference(
    workspace, run, logged, make_workspace
):
    """Another workspace's run or model is "not here": the version names it, and reads none of its files."""
    other = make_workspace("elsewhere")
    by_run = resolve_source(other, source=f"runs:/{run.uuid}/model", run_id=run.uuid)
    by_model = resolve_source(other, source=f"models:/{logged.model_id}", model_id=logged.model_id)
    assert (by_run.run, by_run.storage_location) == (None, f"runs:/{run.uuid}/model")
    assert (by_model.logged_model, by_model.storage_location) == (None, f"models:/{logged.model_id}")
    assert by_run.store_folder(other) is None and by_model.store_folder(other) is None


def test_a_registered_version_can_be_the_source_of_another(workspace, registered, run, model_source):
    register(workspace, registered, run, model_source)
    resolved = resolve_source(workspace, source="models:/registered/1")
    assert (resolved.source, resolved.storage_location, resolved.run_id) == (
        "models:/registered/1",
        model_source,
        run.uuid,
    )
    assert resolve_source(workspace, source="models:/registered/latest").source == "models:/registered/1"
    assert resolve_source(workspace, source="models:/registered/None").source == "models:/registered/1"
    with pytest.raises(ResourceDoesNotExist):
        resolve_source(workspace, source="models:/registered/Production")
    with pytest.raises(InvalidParameterValue, match="must match the referenced model version"):
        resolve_source(workspace, source="models:/registered/1", run_id="other")


@pytest.mark.parametrize(
    "source",
    [
        "s3://bucket/models/m",
        "gs://bucket/models/m",
        "wasbs://container@account.blob.core.windows.net/models/m",
        "https://models.example.com/m",
        "dbfs:/databricks/models/m",
    ],
)
def test_a_source_on_another_store_is_an_external_reference_taken_as_given(workspace, source):
    resolved = resolve_source(workspace, source=source)
    assert (resolved.storage_location, resolved.store_folder(workspace)) == (source, None)
    assert is_external_source(source)


def test_sources_on_this_server_and_prompts_are_not_external(workspace, run, model_source):
    assert not is_external_source(model_source)
    assert not is_external_source("http://host:5000/api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/model")
    assert not is_external_source("dummy-source")


@pytest.mark.parametrize(
    ("source", "ids", "message"),
    [
        ("{other}/model", {"run_id": "{run}"}, "run_id request parameter must identify"),
        ("{artifacts}/model", {}, "run_id request parameter must identify"),
        ("{artifacts}/model", {"run_id": "0123"}, "run_id request parameter must identify"),
        ("runs:/{other_id}/model", {"run_id": "{run}"}, "run_id request parameter must identify"),
        ("runs:/{run}/model", {}, "run_id request parameter must identify"),
        ("runs://host/{run}/model", {"run_id": "{run}"}, "run_id request parameter must identify"),
        ("models:/m-123", {}, "model_id request parameter must identify"),
        ("models:/m-123", {"model_id": "m-456"}, "model_id request parameter must identify"),
        ("{artifacts}/model", {"model_id": "{model}"}, "model_id request parameter must identify"),
        ("runs:/{run}/model", {"model_id": "{model}"}, "model_id request parameter must identify"),
        ("{artifacts}/../../x", {"run_id": "{run}"}, "an absolute path must be provided"),
        ("{artifacts}/%2e%2e/x", {"run_id": "{run}"}, "an absolute path must be provided"),
        ("{artifacts}/a%00b", {"run_id": "{run}"}, "an absolute path must be provided"),
        ("/etc/passwd", {"run_id": "{run}"}, "To use a local path as a model version source"),
        ("file:///etc/passwd", {"model_id": "{model}"}, "To use a local path as a model version source"),
        ("file:///etc/passwd", {}, "To use a local path as a model version source"),
        ("/srv/models/m", {}, "To use a local path as a model version source"),
        ("models/m", {}, "To use a local path as a model version source"),
        ("models/m", {"model_id": "{model}"}, "To use a local path as a model version source"),
        ("models://remote/name/1", {}, "must use the active model registry"),
        ("models:/", {}, "Not a proper models:/ URI"),
    ],
)
def test_a_source_outside_the_given_run_or_logged_model_is_refused(
    workspace, experiment, run, logged, source, ids, message
):
    other = create_run(experiment=experiment)
    values = {
        "run": run.uuid,
        "other_id": other.uuid,
        "other": other.artifact_uri,
        "artifacts": run.artifact_uri,
        "model": logged.model_id,
    }
    with pytest.raises(InvalidParameterValue, match=message):
        resolve_source(
            workspace,
            source=source.format(**values),
            **{key: value.format(**values) for key, value in ids.items()},
        )


def test_a_run_of_another_workspace_cannot_vouch_for_a_source(workspace, run, model_source, make_workspace):
    other = make_workspace("elsewhere")
    with pytest.raises(InvalidParameterValue, match="run_id request parameter must identify"):
        resolve_source(other, source=model_source, run_id=run.uuid)
