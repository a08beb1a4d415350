"""The real MLflow client against a server that requires authentication.

Credentials come the client's way: MLFLOW_TRACKING_TOKEN (Bearer) or MLFLOW_TRACKING_USERNAME
and MLFLOW_TRACKING_PASSWORD (Basic, the password being a password or a token).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException
from requests import HTTPError

from tests.personas import PASSWORD
from tracking.access.models import AccessToken, Membership, Role
from tracking.access.tokens import issue_tracking_token


@pytest.fixture
def tracking_uri(deployed_with_sign_in) -> str:
    return deployed_with_sign_in.url


@pytest.fixture
def server(tracking_uri, team, monkeypatch):
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return tracking_uri


@pytest.fixture
def as_token(monkeypatch):
    def use(token: str) -> None:
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    return use


def error_code(call) -> str:
    with pytest.raises(RestException) as excinfo:
        call()
    return excinfo.value.error_code


def test_without_credentials_the_client_is_told_to_authenticate(server):
    with pytest.raises(RestException) as excinfo:
        MlflowClient(f"{server}/ws/team-a").search_experiments()
    assert excinfo.value.error_code == "UNAUTHENTICATED"
    # It says what works, with the workspace's own pages.
    message = excinfo.value.message
    assert "create a personal access token on /ws/team-a/tokens/" in message
    assert "set MLFLOW_TRACKING_TOKEN=<token>" in message
    assert "download /ws/team-a/config.json" in message
    assert "studio_sdk.Workspace.from_config().get_mlflow_tracking_uri() with STUDIO_TOKEN=<token>" in message


def test_without_a_workspace_in_the_uri_the_message_names_where_tokens_are_made(server):
    with pytest.raises(RestException) as excinfo:
        MlflowClient(server).search_experiments()
    assert "/ws/<workspace>/tokens/" in excinfo.value.message


def test_owner_contributor_reader_and_outsider_through_the_client(server, team, personal_token, as_token):
    uri = f"{server}/ws/team-a"
    client = MlflowClient(uri)
    as_token(personal_token(team.contributor, team.workspace))
    experiment_id = client.create_experiment("by-contributor")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "loss", 0.5)

    as_token(personal_token(team.reader, team.workspace))
    assert client.get_run(run_id).data.metrics == {"loss": 0.5}
    assert error_code(lambda: client.log_metric(run_id, "loss", 0.4)) == "PERMISSION_DENIED"
    assert error_code(lambda: client.create_experiment("by-reader")) == "PERMISSION_DENIED"

    as_token(personal_token(team.contributor, team.workspace))
    assert error_code(lambda: client.delete_experiment(experiment_id)) == "PERMISSION_DENIED"
    client.delete_run(run_id)  # their own

    as_token(personal_token(team.owner, team.workspace))
    client.delete_experiment(experiment_id)

    # The outsider, with a token of their own workspace, aims at team-a.
    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.READER)
    as_token(personal_token(team.outsider, team.other))
    assert error_code(lambda: client.get_experiment("0")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.get_run(run_id)) == "RESOURCE_DOES_NOT_EXIST"


def test_basic_auth_with_a_password_or_a_token(server, team, personal_token, monkeypatch):
    client = MlflowClient(f"{server}/ws/team-a")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    assert client.get_experiment("0").name == "Default"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", personal_token(team.reader, team.workspace))
    assert client.get_experiment("0").name == "Default"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not the password")
    assert error_code(lambda: client.get_experiment("0")) == "UNAUTHENTICATED"


def test_an_expired_token_tells_the_client_how_to_get_a_new_one(server, team, as_token):
    issued = issue_tracking_token(user=team.owner, workspace=team.workspace)
    AccessToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    as_token(issued.secret)
    with pytest.raises(RestException) as excinfo:
        MlflowClient(f"{server}/ws/team-a").search_experiments()
    assert excinfo.value.error_code == "UNAUTHENTICATED"
    assert "expired" in excinfo.value.message
    assert "/ws/team-a/tokens/" in excinfo.value.message


def test_a_revoked_token_stops_working(server, team, personal_token, as_token):
    from tracking.access.tokens import revoke_token

    as_token(personal_token(team.owner, team.workspace))
    client = MlflowClient(f"{server}/ws/team-a")
    client.search_experiments()
    revoke_token(AccessToken.objects.get(user=team.owner))
    assert error_code(client.search_experiments) == "UNAUTHENTICATED"


def test_a_token_for_a_cannot_reach_bs_artifacts_or_models(
    server, team, personal_token, as_token, tmp_path, fluent, artifact_root
):
    # The owner is Owner of both workspaces; each token is for one of them.
    team_b = f"{server}/ws/team-b"
    as_token(personal_token(team.owner, team.other))
    b = MlflowClient(team_b, registry_uri=team_b)
    run_b = b.create_run("0").info.run_id
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.txt").write_text("secret of b")
    (tmp_path / "model" / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: b\n")
    b.log_artifacts(run_b, str(tmp_path / "model"), "model")
    b.create_registered_model("b-model")
    b.create_model_version("b-model", f"runs:/{run_b}/model", run_id=run_b)

    as_token(personal_token(team.owner, team.workspace))
    assert error_code(lambda: b.list_artifacts(run_b)) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException):
        b.download_artifacts(run_b, "model/weights.txt", str(tmp_path / "out1"))
    with pytest.raises(HTTPError, match="RESOURCE_DOES_NOT_EXIST"):  # the upload, refused
        b.log_artifact(run_b, str(tmp_path / "model" / "weights.txt"))
    fluent.set_tracking_uri(team_b)
    fluent.set_registry_uri(team_b)
    with pytest.raises(MlflowException):
        fluent.artifacts.download_artifacts("models:/b-model/1", dst_path=str(tmp_path / "out2"))
    # Through team-a's own URI the same names find nothing of B.
    team_a = f"{server}/ws/team-a"
    fluent.set_tracking_uri(team_a)
    fluent.set_registry_uri(team_a)
    with pytest.raises(MlflowException):
        fluent.artifacts.download_artifacts("models:/b-model/1", dst_path=str(tmp_path / "out3"))
    assert error_code(lambda: MlflowClient(team_a).get_run(run_b)) == "RESOURCE_DOES_NOT_EXIST"
    assert not (tmp_path / "out1").exists() or not any((tmp_path / "out1").rglob("weights.txt"))


def test_the_workspace_api_and_set_workspace_work_with_a_token(
    server, team, personal_token, as_token, fluent
):
    as_token(personal_token(team.reader, team.workspace))
    client = MlflowClient(server)
    assert [w.name for w in client.list_workspaces()] == ["team-a"]
    assert client.get_workspace("team-a").name == "team-a"
    MlflowClient(f"{server}/ws/team-a")  # the header route below must reach the same workspace
    fluent.set_workspace("team-a")
    try:
        assert MlflowClient(server).get_experiment("0").name == "Default"
    finally:
        fluent.set_workspace(None)
    # Without set_workspace the client addresses the default workspace, which is not theirs.
    assert error_code(lambda: MlflowClient(server).get_experiment("0")) == "RESOURCE_DOES_NOT_EXIST"


def test_creating_a_workspace_through_the_client_makes_the_creator_owner(server, team, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "outsider")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    client = MlflowClient(server)
    assert client.create_workspace("outsiders-lab", description="mine").name == "outsiders-lab"
    assert {w.name for w in client.list_workspaces()} == {"outsiders-lab"}
    assert MlflowClient(f"{server}/ws/outsiders-lab").get_experiment("0").name == "Default"


def test_mlflow_s_ui_routes_are_checked_like_the_rpcs(server, team, personal_token, as_token):
    """Readers read through the UI's extra routes and cannot write through them; without
    credentials nothing answers; another workspace's token reaches nothing."""
    import requests

    uri = f"{server}/ws/team-a"
    as_token(personal_token(team.contributor, team.workspace))
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("ui-routes")).info.run_id

    def call(method, route, token, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{uri}{route}", headers=headers, timeout=30, **kwargs)

    contributor = personal_token(team.contributor, team.workspace)
    reader = personal_token(team.reader, team.workspace)
    upload = ("POST", "/ajax-api/2.0/mlflow/upload-artifact")
    assert (
        call(*upload, contributor, params={"run_uuid": run_id, "path": "a.txt"}, data=b"a").status_code == 200
    )
    read = ("GET", "/get-artifact")
    assert call(*read, reader, params={"run_id": run_id, "path": "a.txt"}).content == b"a"

    refused = call(*upload, reader, params={"run_uuid": run_id, "path": "b.txt"}, data=b"b")
    assert (refused.status_code, refused.json()["error_code"]) == (403, "PERMISSION_DENIED")
    promptlab = call("POST", "/ajax-api/2.0/mlflow/runs/create-promptlab-run", reader, json={})
    assert promptlab.status_code == 403
    assert call(*read, None, params={"run_id": run_id, "path": "a.txt"}).status_code == 401
    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.READER)
    outsider = call(
        *read, personal_token(team.outsider, team.other), params={"run_id": run_id, "path": "a.txt"}
    )
    assert outsider.status_code in (401, 404) and outsider.content != b"a"
