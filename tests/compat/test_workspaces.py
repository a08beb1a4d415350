"""Workspace-scoped tracking URIs: /ws/<name>/ and MLflow 3's X-MLFLOW-WORKSPACE header."""

from __future__ import annotations

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import RestException


@pytest.fixture
def team_a(tracking_uri, make_workspace) -> str:
    make_workspace("team-a")
    return f"{tracking_uri}/ws/team-a"


def test_each_workspace_has_its_own_default_experiment_and_numbering(tracking_uri, team_a):
    root, scoped = MlflowClient(tracking_uri), MlflowClient(team_a)
    assert scoped.get_experiment("0").name == "Default"
    assert root.create_experiment("shared-name") == "1"
    assert scoped.create_experiment("shared-name") == "1"


def test_experiments_and_runs_of_one_workspace_are_invisible_from_another(tracking_uri, team_a):
    root, scoped = MlflowClient(tracking_uri), MlflowClient(team_a)
    experiment_id = scoped.create_experiment("private")
    run_id = scoped.create_run(experiment_id).info.run_id
    scoped.log_metric(run_id, "m", 1.0)

    assert root.get_experiment_by_name("private") is None
    assert [e.name for e in root.search_experiments()] == ["Default"]
    with pytest.raises(RestException) as excinfo:
        root.get_run(run_id)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(RestException):
        root.log_metric(run_id, "m", 2.0)
    assert root.get_metric_history(run_id, "m") == []
    assert scoped.get_run(run_id).data.metrics == {"m": 1.0}


def test_the_fluent_api_logs_into_a_workspace_uri(fluent, team_a):
    fluent.set_tracking_uri(team_a)
    fluent.set_experiment("fluent-in-team-a")
    with fluent.start_run() as run:
        fluent.log_metric("alpha", 0.03)
    assert MlflowClient(team_a).get_run(run.info.run_id).data.metrics == {"alpha": 0.03}


def test_the_workspace_header_selects_a_workspace(tracking_uri, team_a):
    MlflowClient(team_a).create_experiment("by-header")
    response = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "by-header"},
        headers={"X-MLFLOW-WORKSPACE": "team-a"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["experiment"]["name"] == "by-header"


def test_mlflow_set_workspace_routes_the_client(fluent, tracking_uri, team_a):
    MlflowClient(team_a).create_experiment("seen-through-set-workspace")
    fluent.set_workspace("team-a")
    try:
        assert MlflowClient(tracking_uri).get_experiment_by_name("seen-through-set-workspace") is not None
    finally:
        fluent.set_workspace(None)


def test_an_unknown_workspace_is_not_found(tracking_uri):
    with pytest.raises(RestException) as excinfo:
        MlflowClient(f"{tracking_uri}/ws/nobody").get_experiment("0")
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_deleting_a_workspace_through_the_client_refuses_one_that_holds_anything_unless_cascading(
    tracking_uri, team_a
):
    from mlflow.entities.workspace import WorkspaceDeletionMode

    from tests.deployed import wait_for
    from tracking.models import Deletion, Workspace

    MlflowClient(team_a).create_experiment("doomed")
    client = MlflowClient(tracking_uri)
    with pytest.raises(RestException) as refused:
        client.delete_workspace("team-a")
    assert refused.value.error_code == "INVALID_STATE" and "1 experiments" in refused.value.message
    assert not Deletion.objects.exists()

    client.delete_workspace("team-a", mode=WorkspaceDeletionMode.CASCADE)
    row = Deletion.objects.get()
    # The deletion is recorded before the answer; the real worker may already have started it.
    assert (row.kind, row.target_name) == ("workspace", "team-a")
    assert row.status in {"QUEUED", "RUNNING", "SUCCEEDED"}
    wait_for(lambda: not Workspace.objects.filter(name="team-a").exists(), 60, "the worker's deletion")
    row.refresh_from_db()
    assert row.status == "SUCCEEDED"

    with pytest.raises(RestException) as reserved:
        client.delete_workspace("default")
    assert reserved.value.error_code == "INVALID_STATE"


def test_an_empty_workspace_is_deleted_in_the_default_mode(tracking_uri, make_workspace):
    from tracking.models import Deletion

    make_workspace("empty-one")
    MlflowClient(tracking_uri).delete_workspace("empty-one")
    assert Deletion.objects.get().target_name == "empty-one"
