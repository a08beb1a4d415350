"""Access to the MLflow API, checked once in the router: personas, tokens, local mode.

The MLflow client's side (tokens in its environment, Basic auth, artifacts, models:/ URIs)
is in tests/compat/test_access.py; these call the API directly to cover the matrix quickly.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.personas import PASSWORD
from tracking.access.models import AccessToken, Membership, Role
from tracking.access.tokens import issue_job_token, issue_tracking_token, refresh_job_token, revoke_token
from tracking.models import Run
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run

pytestmark = pytest.mark.django_db


def call(client, method: str, path: str, token: str | None = None, body: dict | None = None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    kwargs = {"content_type": "application/json", **headers}
    if body is not None:
        kwargs["data"] = json.dumps(body) if method != "get" else body
    return getattr(client, method)(path, **kwargs)


def ws_path(workspace: str, rpc: str) -> str:
    return f"/ws/{workspace}/api/2.0/mlflow/{rpc}"


@pytest.fixture
def tokens(team, personal_token):
    return {
        persona: personal_token(team.user(persona), team.workspace)
        for persona in ("owner", "contributor", "reader", "outsider")
    }


@pytest.fixture
def experiment(team):
    return create_experiment(workspace=team.workspace, name="shared")


# --- Local mode and authentication -------------------------------------------------------------


def test_local_mode_lets_anonymous_callers_use_every_workspace(client, team, experiment):
    response = call(
        client, "get", ws_path("team-a", "experiments/get"), body={"experiment_id": experiment.number}
    )
    assert response.status_code == 200


def test_with_auth_on_an_anonymous_call_is_unauthenticated(client, auth_on, team):
    response = call(client, "get", ws_path("team-a", "experiments/get"), body={"experiment_id": "0"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert "MLFLOW_TRACKING_TOKEN" in response.json()["message"]


def test_an_unknown_caller_learns_nothing_about_which_workspaces_exist(client, auth_on, team):
    known = call(client, "get", ws_path("team-a", "experiments/get"), body={"experiment_id": "0"})
    unknown = call(client, "get", ws_path("nobody", "experiments/get"), body={"experiment_id": "0"})
    assert known.status_code == unknown.status_code == 401


def test_credentials_are_checked_even_in_local_mode(client, team):
    response = call(
        client, "get", ws_path("team-a", "experiments/get"), token="stp_forged", body={"experiment_id": "0"}
    )
    assert response.status_code == 401


def test_a_bad_token_is_unauthenticated_and_says_how_to_get_one(client, auth_on, team):
    response = call(
        client, "get", ws_path("team-a", "experiments/get"), token="stp_nope", body={"experiment_id": "0"}
    )
    assert response.status_code == 401
    assert "Tokens page" in response.json()["message"] or "/tokens/" in response.json()["message"]


# --- Personas ------------------------------------------------------------------------------------

READ = ("get", "experiments/get", {"experiment_id": "0"})
WRITE = ("post", "experiments/create", {"name": "new-one"})
OWNER_ONLY = ("post", "experiments/delete", {"experiment_id": "0"})


@pytest.mark.parametrize(
    ("persona", "operation", "status"),
    [
        ("owner", READ, 200),
        ("owner", WRITE, 200),
        ("owner", OWNER_ONLY, 200),
        ("contributor", READ, 200),
        ("contributor", WRITE, 200),
        ("contributor", OWNER_ONLY, 403),
        ("reader", READ, 200),
        ("reader", WRITE, 403),
        ("reader", OWNER_ONLY, 403),
        ("outsider", READ, 404),
        ("outsider", WRITE, 404),
        ("outsider", OWNER_ONLY, 404),
    ],
)
def test_each_persona_may_do_what_its_role_allows(client, auth_on, team, tokens, persona, operation, status):
    method, rpc, body = operation
    response = call(client, method, ws_path("team-a", rpc), token=tokens[persona], body=body)
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["error_code"] == "PERMISSION_DENIED"
    if status == 404:
        assert response.json() == {
            "error_code": "RESOURCE_DOES_NOT_EXIST",
            "message": "Workspace 'team-a' does not exist.",
        }


def test_an_outsider_gets_the_same_404_as_for_a_workspace_that_does_not_exist(client, auth_on, team):
    from tracking.access.tokens import issue_personal_token

    # A token of the outsider's own workspace, aimed at team-a and at a name nobody uses.
    mine = issue_personal_token(user=team.outsider, workspace=team.other, name="x").secret
    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    theirs = call(
        client, "get", ws_path("team-a", "experiments/get"), token=mine, body={"experiment_id": "0"}
    )
    nobody = call(
        client, "get", ws_path("nobody", "experiments/get"), token=mine, body={"experiment_id": "0"}
    )
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["message"].replace("team-a", "X") == nobody.json()["message"].replace("nobody", "X")


def test_a_contributor_deletes_their_own_runs_but_not_others(client, auth_on, team, tokens, experiment):
    created = call(
        client, "post", ws_path("team-a", "runs/create"), token=tokens["contributor"],
        body={"experiment_id": str(experiment.number), "user_id": "owner"},  # claims to be someone else
    )  # fmt: skip
    mine = created.json()["run"]["info"]["run_id"]
    assert Run.objects.get(uuid=mine).user_id == "contributor"
    theirs = create_run(experiment=experiment, user_id="owner").uuid

    assert (
        call(
            client, "post", ws_path("team-a", "runs/delete"), tokens["contributor"], {"run_id": mine}
        ).status_code
        == 200
    )
    denied = call(client, "post", ws_path("team-a", "runs/delete"), tokens["contributor"], {"run_id": theirs})
    assert denied.status_code == 403
    assert (
        call(
            client, "post", ws_path("team-a", "runs/delete"), tokens["owner"], {"run_id": theirs}
        ).status_code
        == 200
    )


def test_a_removed_member_loses_access_with_their_tokens(client, auth_on, team, tokens):
    Membership.objects.filter(user=team.reader).delete()
    response = call(
        client, "get", ws_path("team-a", "experiments/get"), tokens["reader"], {"experiment_id": "0"}
    )
    assert response.status_code == 404


# --- Tokens ----------------------------------------------------------------------------------------


def test_a_token_of_workspace_a_cannot_touch_workspace_b(client, auth_on, team, personal_token):
    # The owner is Owner of both; the token is for team-a only.
    token = personal_token(team.owner, team.workspace)
    for path in (
        ws_path("team-b", "experiments/get?experiment_id=0"),
        "/api/2.0/mlflow/experiments/get?experiment_id=0",  # the default workspace
        "/ws/team-b/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/file.txt",
        "/ws/team-b/ajax-api/2.0/mlflow/registered-models/search",
    ):
        assert call(client, "get", path, token).status_code == 404, path
    header = call(
        client,
        "get",
        "/api/2.0/mlflow/experiments/get?experiment_id=0",
        token,
        HTTP_X_MLFLOW_WORKSPACE="team-b",
    )
    assert header.status_code == 404
    assert call(client, "get", ws_path("team-a", "experiments/get?experiment_id=0"), token).status_code == 200


def test_an_expired_token_is_unauthenticated_with_how_to_renew(client, auth_on, team):
    issued = issue_tracking_token(user=team.owner, workspace=team.workspace, seconds=60)
    AccessToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = call(client, "get", ws_path("team-a", "experiments/get?experiment_id=0"), issued.secret)
    assert response.status_code == 401
    body = response.json()
    assert body["error_code"] == "UNAUTHENTICATED"
    assert "expired" in body["message"] and "/ws/team-a/tokens/" in body["message"]


def test_a_revoked_token_is_refused_at_once(client, auth_on, team, personal_token):
    token = personal_token(team.owner, team.workspace)
    path = ws_path("team-a", "experiments/get?experiment_id=0")
    assert call(client, "get", path, token).status_code == 200  # now cached
    revoke_token(AccessToken.objects.get(user=team.owner))
    response = call(client, "get", path, token)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_tokens_are_stored_only_as_hashes(team, personal_token):
    secret = personal_token(team.owner, team.workspace)
    stored = AccessToken.objects.get(user=team.owner)
    assert secret not in (stored.secret_hash, stored.prefix, stored.name)
    assert len(stored.secret_hash) == 64 and secret.startswith(stored.prefix)


def test_revoking_a_personal_token_revokes_the_tracking_tokens_fetched_with_it(
    client, auth_on, team, personal_token
):
    pat = personal_token(team.reader, team.workspace)
    fetched = call(client, "post", "/api/studio/v1/workspaces/team-a/tracking-token", pat).json()
    path = ws_path("team-a", "experiments/get?experiment_id=0")
    assert call(client, "get", path, fetched["token"]).status_code == 200
    revoke_token(AccessToken.objects.get(user=team.reader, kind="personal"))
    assert call(client, "get", path, fetched["token"]).status_code == 401


def test_a_tracking_token_cannot_fetch_another(client, auth_on, team):
    issued = issue_tracking_token(user=team.owner, workspace=team.workspace)
    response = call(client, "post", "/api/studio/v1/workspaces/team-a/tracking-token", issued.secret)
    assert response.status_code == 403


def test_a_tracking_token_lives_an_hour_by_default(client, auth_on, team, personal_token):
    before = timezone.now()
    body = call(
        client,
        "post",
        "/api/studio/v1/workspaces/team-a/tracking-token",
        personal_token(team.owner, team.workspace),
    ).json()
    assert body["expires_in"] == 3600
    token = AccessToken.objects.get(kind="tracking")
    assert timedelta(minutes=59) < token.expires_at - before <= timedelta(minutes=60, seconds=5)


def test_a_job_token_acts_at_most_with_its_role_and_is_kept_alive_by_refresh(client, auth_on, team):
    issued = issue_job_token(team.workspace, team.owner, role=Role.READER, seconds=60)
    read = ws_path("team-a", "experiments/get?experiment_id=0")
    assert call(client, "get", read, issued.secret).status_code == 200
    assert (
        call(
            client, "post", ws_path("team-a", "experiments/create"), issued.secret, {"name": "j"}
        ).status_code
        == 403
    )

    AccessToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() + timedelta(seconds=1))
    refresh_job_token(issued.token, seconds=600)
    assert AccessToken.objects.get(pk=issued.token.pk).expires_at > timezone.now() + timedelta(seconds=590)
    revoke_token(issued.token)
    assert refresh_job_token(issued.token) is None
    assert call(client, "get", read, issued.secret).status_code == 401


def test_a_job_token_without_a_user_acts_as_its_role(client, auth_on, team):
    issued = issue_job_token(team.workspace, None)
    response = call(
        client, "post", ws_path("team-a", "experiments/create"), issued.secret, {"name": "by-a-job"}
    )
    assert response.status_code == 200


# --- Basic auth and sessions -----------------------------------------------------------------------


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_basic_auth_takes_a_password_or_a_token(client, auth_on, team, personal_token):
    path = ws_path("team-a", "experiments/get?experiment_id=0")
    assert client.get(path, HTTP_AUTHORIZATION=basic("reader", PASSWORD)).status_code == 200
    token = personal_token(team.reader, team.workspace)
    assert client.get(path, HTTP_AUTHORIZATION=basic("reader", token)).status_code == 200
    assert client.get(path, HTTP_AUTHORIZATION=basic("reader", "wrong")).status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION=basic("owner", token)).status_code == 401  # not owner's token


def test_basic_auth_password_guessing_is_throttled(client, auth_on, team, settings):
    settings.LOGIN_MAX_FAILURES = 3
    path = ws_path("team-a", "experiments/get?experiment_id=0")
    for _ in range(3):
        assert client.get(path, HTTP_AUTHORIZATION=basic("reader", "guess")).status_code == 401
    locked = client.get(path, HTTP_AUTHORIZATION=basic("reader", PASSWORD))
    assert locked.status_code == 401
    assert "Too many" in locked.json()["message"]


def test_a_signed_in_browser_writes_only_with_the_csrf_token(auth_on, team):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team.owner)
    path = "/ws/team-a/ajax-api/2.0/mlflow/experiments/create"
    assert browser.get("/ws/team-a/ajax-api/2.0/mlflow/experiments/get?experiment_id=0").status_code == 200
    refused = browser.post(path, data=json.dumps({"name": "x"}), content_type="application/json")
    assert refused.status_code == 403
    browser.get("/login/")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    accepted = browser.post(
        path, data=json.dumps({"name": "x"}), content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert accepted.status_code == 200


# --- MLflow 3's workspace API ----------------------------------------------------------------------


def test_list_workspaces_shows_only_the_callers_workspaces(client, auth_on, team, personal_token):
    response = call(client, "get", "/api/3.0/mlflow/workspaces", personal_token(team.reader, team.workspace))
    assert response.json() == {"workspaces": [{"name": "team-a"}]}


def test_create_workspace_makes_the_creator_its_owner(client, auth_on, team):
    response = client.post(
        "/api/3.0/mlflow/workspaces",
        data=json.dumps({"name": "fresh", "description": "new"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic("outsider", PASSWORD),
    )
    assert response.status_code == 201
    assert response.json() == {"workspace": {"name": "fresh", "description": "new"}}
    assert Membership.objects.get(workspace__name="fresh").user == team.outsider


def test_update_workspace_is_for_owners(client, auth_on, team, tokens):
    path = "/api/3.0/mlflow/workspaces/team-a"
    assert call(client, "patch", path, tokens["contributor"], {"description": "x"}).status_code == 403
    assert call(client, "patch", path, tokens["owner"], {"description": "ours"}).json() == {
        "workspace": {"name": "team-a", "description": "ours"}
    }
    assert call(client, "get", "/api/3.0/mlflow/workspaces/team-b", tokens["outsider"]).status_code == 404


def test_server_info_answers_the_same_under_any_workspace_name(client, auth_on, team, personal_token):
    """Found in a review: under /ws/<name>/ it answered 200 for a workspace that exists and 404 for
    one that does not, to anyone signed in: a way to learn other teams' workspace names."""
    token = personal_token(team.reader, team.workspace)  # a member of team-a only
    answers = [
        call(client, "get", f"/ws/{name}/api/3.0/mlflow/server-info", token)
        for name in ("team-a", "team-b", "no-such-team")
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
