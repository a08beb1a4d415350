"""An imported file store reads back, through the real MLflow client, as the file store itself does.

The same questions go to two clients: one on the file store (MLflow's FileStore), one on this
server after the import; everything but where artifacts live must be equal: ids, names, times,
statuses, lifecycle stages, params, tags, every metric point, datasets, artifacts' bytes,
logged models, registered models and their versions.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import ensure_default_workspace

from .conftest import import_folder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clients(mlflow_store, live_server, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    ours = MlflowClient(live_server.url, live_server.url)
    uri = f"file://{mlflow_store.root}"
    return MlflowClient(uri, uri), ours


def _number(value: float):
    return "nan" if math.isnan(value) else value


def _artifacts(client, run_id: str, folder: Path, path: str | None = None) -> dict[str, bytes]:
    found = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            found.update(_artifacts(client, run_id, folder, info.path))
        else:
            local = client.download_artifacts(run_id, info.path, str(folder))
            found[info.path] = (info.file_size, Path(local).read_bytes())
    return found


def snapshot(client, experiment_ids: list[str], scratch: Path) -> dict:
    from mlflow.entities import ViewType

    experiments = {
        e.experiment_id: (
            e.name,
            e.lifecycle_stage,
            sorted(e.tags.items()),
            e.creation_time,
            e.last_update_time,
        )
        for e in client.search_experiments(view_type=ViewType.ALL)
        if e.experiment_id in experiment_ids
    }
    runs = {}
    for run in client.search_runs(experiment_ids, run_view_type=ViewType.ALL, max_results=1000):
        info = run.info
        runs[info.run_id] = {
            "info": (
                info.run_name,
                info.experiment_id,
                info.user_id,
                info.status,
                info.start_time,
                info.end_time,
                info.lifecycle_stage,
            ),
            "params": run.data.params,
            "tags": run.data.tags,
            "latest": {key: _number(value) for key, value in run.data.metrics.items()},
            # The file store keeps a line logged twice twice; a database stores the point once.
            "histories": {
                key: sorted(
                    {
                        (m.timestamp, m.step, _number(m.value))
                        for m in client.get_metric_history(info.run_id, key)
                    },
                    key=str,
                )
                for key in run.data.metrics
            },
            "datasets": sorted(
                (
                    d.dataset.name,
                    d.dataset.digest,
                    d.dataset.source_type,
                    d.dataset.source,
                    d.dataset.schema,
                    d.dataset.profile,
                    sorted((tag.key, tag.value) for tag in d.tags),
                )
                for d in run.inputs.dataset_inputs
            ),
            "artifacts": _artifacts(client, info.run_id, scratch / info.run_id),
        }
    registry = {}
    for model in client.search_registered_models():
        versions = sorted(client.search_model_versions(f"name='{model.name}'"), key=lambda v: int(v.version))
        registry[model.name] = {
            # No description: None from the file store, "" from a server (as MLflow's own answers).
            "model": (
                model.description or "",
                model.tags,
                model.aliases,
                model.creation_timestamp,
                model.last_updated_timestamp,
            ),
            "versions": [
                (
                    str(v.version),  # an int from the file store, a string from a server
                    v.current_stage,
                    v.status,
                    v.run_id,
                    v.tags,
                    sorted(v.aliases),
                    v.description or "",
                    v.creation_timestamp,
                    v.last_updated_timestamp,
                    v.source,
                )
                for v in versions
            ],
        }
    logged = {
        m.model_id: (
            m.name,
            m.status,
            m.source_run_id,
            m.params,
            m.tags,
            m.creation_timestamp,
            m.experiment_id,
        )
        for m in client.search_logged_models(experiment_ids=experiment_ids)
    }
    return {"experiments": experiments, "runs": runs, "registry": registry, "logged_models": logged}


def test_everything_reads_back_through_the_mlflow_client_as_from_the_file_store(
    mlflow_store, clients, tmp_path
):
    theirs, ours = clients
    workspace = ensure_default_workspace()
    row = import_folder(workspace, mlflow_store.root)
    assert row.status == "SUCCEEDED", row.error
    assert row.problems == []

    ids = list(mlflow_store.made["experiments"].values())
    expected = snapshot(theirs, ids, tmp_path / "theirs")
    imported = snapshot(ours, ids, tmp_path / "ours")

    assert imported["experiments"] == expected["experiments"]
    assert set(imported["runs"]) == set(expected["runs"]) == set(mlflow_store.made["runs"].values())
    for run_id, run in expected["runs"].items():
        assert imported["runs"][run_id] == run, run_id
    assert imported["registry"] == expected["registry"]
    assert imported["logged_models"] == expected["logged_models"]


def test_the_run_tree_statuses_and_files_are_kept(mlflow_store, clients):
    _, ours = clients
    import_folder(ensure_default_workspace(), mlflow_store.root)
    parent, child = mlflow_store.run_id("parent"), mlflow_store.run_id("child")

    assert ours.get_run(child).data.tags["mlflow.parentRunId"] == parent
    assert ours.get_run(mlflow_store.run_id("failing")).info.status == "FAILED"
    assert ours.get_run(mlflow_store.run_id("removed")).info.lifecycle_stage == "deleted"
    history = ours.get_metric_history(parent, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4, 5]
    assert [repr(m.value) for m in history] == ["1.0", "0.5", "nan", "inf", "-inf", "0.25"]
    assert [m.timestamp for m in history] == [1_700_000_000_000 + step * 1000 for step in range(6)]
    # What the file store cannot say right (its reader returns the run's id): the model it produced.
    assert [o.model_id for o in ours.get_run(parent).outputs.model_outputs] == [
        mlflow_store.made["models"]["logged"]
    ]


def test_model_files_move_to_this_server_and_read_as_a_model(mlflow_store, clients, tmp_path):
    import mlflow

    _, ours = clients
    import_folder(ensure_default_workspace(), mlflow_store.root)
    model_id = mlflow_store.made["models"]["logged"]
    experiment = mlflow_store.made["experiments"]["exp-a"]

    location = f"mlflow-artifacts:/{experiment}/models/{model_id}/artifacts"
    assert ours.get_logged_model(model_id).artifact_location == location
    assert ours.get_model_version_download_uri("classifier", "1") == location
    assert ours.get_model_version("classifier", "1").aliases == ["champion"]
    with pytest.raises(mlflow.exceptions.MlflowException):
        ours.get_model_version("classifier", "2")  # deleted in the file store
    # Version 2's number is not given out again: the next version is 4.
    assert ours.create_model_version("classifier", "s3://bucket/model").version == "4"
    local = ours.download_artifacts(mlflow_store.run_id("parent"), "hello.txt", str(tmp_path))
    assert Path(local).read_text() == "hello\n"
