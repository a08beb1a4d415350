"""Registering versions: what a version keeps, its numbering, its stages, and its lineage."""

from __future__ import annotations

import pytest

from registry.models import ModelVersion, ModelVersionTag, RegisteredModel
from registry.queries.model_versions import get_model_version_record, registrations
from registry.services.model_versions import (
    create_model_version,
    delete_model_version,
    transition_model_version_stage,
)
from registry.services.sources import store_folder
from tracking.artifacts import default_store
from tracking.errors import InvalidParameterValue
from tracking.models import LoggedModelTag, Run
from tracking.services.experiments import delete_experiment
from tracking.services.logged_models import create_logged_model
from tracking.services.runs import delete_run

from ..conftest import MODEL_FILES, SIGNATURE_INPUTS, register, write_files


def test_a_version_keeps_what_its_mlmodel_said(workspace, registered, run, model_source):
    version = register(workspace, registered, run, model_source, description="first")
    version.refresh_from_db()
    assert (version.version, version.status, version.status_message) == (1, "READY", "")
    assert set(version.flavors) == {"python_function", "sklearn"}
    assert version.signature_inputs == SIGNATURE_INPUTS
    assert version.input_example_info["type"] == "ndarray"
    assert version.input_example == MODEL_FILES["input_example.json"]
    assert (version.mlflow_version, version.model_uuid) == ("3.17.2", "0a1b2c3d")
    assert version.requirements == MODEL_FILES["requirements.txt"]
    assert version.conda_env == MODEL_FILES["conda.yaml"]
    assert version.python_env == MODEL_FILES["python_env.yaml"]
    assert dict(version.files) == {name: len(text.encode()) for name, text in MODEL_FILES.items()}
    assert version.artifact_size == sum(len(text.encode()) for text in MODEL_FILES.values())
    assert (version.run_id, version.lineage_run_id) == (run.uuid, run.pk)


@pytest.mark.parametrize(
    ("source", "ids"),
    [
        ("runs:/0123/model", {"run_id": "0123"}),
        ("models:/m-0123", {"model_id": "m-0123"}),
        ("models:/elsewhere/1", {}),
        ("s3://bucket/models/m", {}),
        ("gs://bucket/models/m", {}),
        ("wasbs://c@account.blob.core.windows.net/m", {}),
        ("https://models.example.com/m", {}),
        ("dbfs:/databricks/m", {}),
    ],
)
def test_a_model_stored_outside_this_server_registers_ready_as_a_reference(
    workspace, registered, source, ids
):
    version = create_model_version(workspace=workspace, model=registered, source=source, **ids)
    assert (version.status, version.status_message) == ("READY", "")
    assert (version.source, version.storage_location) == (source, source)
    assert version.files == [] and version.flavors == {}


def test_a_logged_model_with_no_files_registers_ready_as_in_mlflow(workspace, registered, experiment, run):
    logged = create_logged_model(experiment=experiment, name="model", source_run_id=run.uuid)
    version = create_model_version(
        workspace=workspace, model=registered, source=f"models:/{logged.model_id}", model_id=logged.model_id
    )
    assert (version.status, version.status_message) == ("READY", "")
    assert version.storage_location == logged.artifact_location
    by_run = create_model_version(
        workspace=workspace, model=registered, source=f"runs:/{run.uuid}/model", run_id=run.uuid
    )
    assert (by_run.status, by_run.model_id) == ("READY", logged.model_id)


def test_a_logged_model_whose_files_are_not_a_model_still_fails(workspace, registered, experiment, run):
    logged = create_logged_model(experiment=experiment, name="model", source_run_id=run.uuid)
    write_files(workspace, logged.artifact_location, {"notes.txt": "not a model"})
    version = create_model_version(
        workspace=workspace, model=registered, source=f"models:/{logged.model_id}", model_id=logged.model_id
    )
    assert version.status == "FAILED_REGISTRATION"
    assert version.status_message.startswith("There is no MLmodel file")


@pytest.mark.parametrize("source", ["/srv/models/m", "file:///srv/models/m", "models/m", "./m"])
def test_a_local_path_is_still_refused(workspace, registered, source):
    with pytest.raises(InvalidParameterValue, match="To use a local path as a model version source"):
        create_model_version(workspace=workspace, model=registered, source=source)
    assert not ModelVersion.objects.exists()


def test_a_folder_that_is_not_a_model_fails_registration_with_its_reason(workspace, registered, run):
    source = write_files(workspace, f"{run.artifact_uri}/notes", {"readme.md": "# hi"})
    version = register(workspace, registered, run, source)
    assert version.status == "FAILED_REGISTRATION"
    assert version.status_message.startswith(f"There is no MLmodel file at {source}")
    assert version.flavors == {} and version.files == []


def test_version_numbers_grow_and_are_never_reused(workspace, registered, run, model_source):
    for _ in range(3):
        register(workspace, registered, run, model_source)
    delete_model_version(version=ModelVersion.objects.get(version=3))
    assert register(workspace, registered, run, model_source).version == 4
    delete_model_version(version=ModelVersion.objects.get(version=4))
    assert register(workspace, registered, run, model_source).version == 5
    assert sorted(ModelVersion.objects.values_list("version", flat=True)) == [1, 2, 5]


def test_bad_tags_register_nothing(workspace, registered, run, model_source):
    with pytest.raises(InvalidParameterValue):
        register(workspace, registered, run, model_source, tags=[("ok", "v"), ("k" * 251, "v")])
    with pytest.raises(InvalidParameterValue):
        register(workspace, registered, run, model_source, tags=[("ok", "v" * 100_001)])
    assert not ModelVersion.objects.exists()
    assert not ModelVersionTag.objects.exists()
    assert RegisteredModel.objects.get().last_version_number == 0


def test_a_registration_from_a_logged_model_is_listed_on_the_logged_model(
    workspace, experiment, registered, run
):
    logged = create_logged_model(experiment=experiment, name="model", source_run_id=run.uuid)
    write_files(workspace, logged.artifact_location, MODEL_FILES)
    for _ in range(2):
        create_model_version(
            workspace=workspace,
            model=registered,
            source=f"models:/{logged.model_id}",
            model_id=logged.model_id,
        )
    tag = LoggedModelTag.objects.get(model=logged, key="mlflow.modelVersions")
    # MLflow's server writes the version as a number, and clients compare the tag's exact text.
    assert tag.value == '[{"name": "registered", "version": 1}, {"name": "registered", "version": 2}]'
    assert registrations(workspace, [logged.model_id, "m-other"]) == {
        logged.model_id: [("registered", 1), ("registered", 2)]
    }


def test_deleting_the_run_and_experiment_keeps_the_version_and_its_files(
    workspace, experiment, registered, run, model_source
):
    register(workspace, registered, run, model_source)
    delete_run(run=run)
    delete_experiment(experiment=experiment)
    record = get_model_version_record(workspace, "registered", "1")
    assert (record.run_id, record.status) == (run.uuid, "READY")
    version = ModelVersion.objects.get()
    assert version.lineage_run_id == run.pk
    assert default_store().exists(f"{store_folder(workspace, version.storage_location)}/MLmodel")


def test_a_purged_run_leaves_the_run_id_on_the_version(workspace, registered, run, model_source):
    register(workspace, registered, run, model_source)
    Run.objects.filter(pk=run.pk).delete()
    version = ModelVersion.objects.get()
    assert (version.run_id, version.lineage_run_id) == (run.uuid, None)


def test_archiving_existing_versions_moves_only_that_stage(workspace, registered, run, model_source):
    versions = [register(workspace, registered, run, model_source) for _ in range(4)]
    transition_model_version_stage(version=versions[0], stage="production")
    transition_model_version_stage(version=versions[1], stage="Staging")
    transition_model_version_stage(version=versions[2], stage="PRODUCTION", archive_existing_versions=True)
    stages = dict(ModelVersion.objects.values_list("version", "current_stage"))
    assert stages == {1: "Archived", 2: "Staging", 3: "Production", 4: "None"}
    with pytest.raises(InvalidParameterValue, match="not an Active stage"):
        transition_model_version_stage(version=versions[3], stage="None", archive_existing_versions=True)
