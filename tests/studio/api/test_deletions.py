"""Deletions through the studio API: a dry run, then a queued deletion; who may ask is decided
before anything inside a workspace is looked up, so a refusal tells an outsider nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.personas import PASSWORD
from tracking.models import Deletion
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run

pytestmark = pytest.mark.django_db
URL = "/api/studio/v1/deletions"


def test_the_api_gives_a_dry_run_then_queues_the_deletion(client, group):
    url = "/api/studio/v1/deletions"
    dry = client.post(
        url, {"kind": "resource-group", "name": "project-x", "dry_run": True}, "application/json"
    )
    assert dry.status_code == 200 and dry.json()["plan"]["runs"] == 3
    assert not Deletion.objects.exists()

    wrong = client.post(
        url, {"kind": "resource_group", "name": "project-x", "confirm": "x"}, "application/json"
    )
    assert wrong.status_code == 400 and wrong.json()["error_code"] == "INVALID_PARAMETER_VALUE"

    queued = client.post(
        url, {"kind": "resource_group", "name": "project-x", "confirm": "project-x"}, "application/json"
    )
    assert queued.status_code == 202
    row = Deletion.objects.get()
    assert queued["Location"] == f"/api/studio/v1/deletions/{row.pk}"
    assert client.get(queued["Location"]).json()["status"] == "QUEUED"


def test_the_api_answers_like_mlflow_for_unknown_targets(client, default_workspace):
    url = "/api/studio/v1/deletions"
    missing = client.post(url, {"kind": "run", "name": "abc", "confirm": "abc"}, "application/json")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    unknown = client.post(url, {"kind": "planet", "name": "x"}, "application/json")
    assert unknown.status_code == 400
    assert client.get("/api/studio/v1/deletions/99").status_code == 404
    assert client.get(url).status_code == 405


def test_the_api_needs_an_owner_with_a_token(auth_on, team, personal_token, client):
    url = "/api/studio/v1/deletions"
    body = {"kind": "workspace", "name": "team-a", "confirm": "team-a"}
    assert client.post(url, body, "application/json").status_code == 401
    as_reader = {"HTTP_AUTHORIZATION": f"Bearer {personal_token(team.reader, team.workspace)}"}
    assert client.post(url, body, "application/json", **as_reader).status_code == 403
    as_owner = {"HTTP_AUTHORIZATION": f"Bearer {personal_token(team.owner, team.workspace)}"}
    assert client.post(url, body, "application/json", **as_owner).status_code == 202
    # A token of team-a cannot reach team-b, even its owner's.
    other = {"kind": "workspace", "name": "team-b", "confirm": "team-b"}
    assert client.post(url, other, "application/json", **as_owner).status_code == 404


@pytest.mark.parametrize("kind", ["experiment", "run"])
def test_an_outsider_learns_nothing_of_what_a_workspace_holds(auth_on, team, kind):
    experiment = create_experiment(workspace=team.workspace, name="secret-project")
    run = create_run(experiment=experiment)
    existing = experiment.name if kind == "experiment" else run.uuid
    outsider = Client()
    outsider.login(username="outsider", password=PASSWORD)

    answers = [
        outsider.post(
            URL,
            json.dumps({"kind": kind, "name": name, "workspace": "team-a", "dry_run": True}),
            "application/json",
        )
        for name in (existing, "no-such-thing")
    ]

    assert [a.status_code for a in answers] == [404, 404]
    assert (
        answers[0].json()
        == answers[1].json()
        == {
            "error_code": "RESOURCE_DOES_NOT_EXIST",
            "message": "Workspace 'team-a' does not exist.",
        }
    )
    assert not Deletion.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"kind": {"a": [1, {"b": 2}]}, "name": "x"},
        {"kind": "run", "name": {"nested": {"deeper": [1, 2, 3]}}},
        {"kind": "run", "name": "x", "dry_run": "perhaps"},
        {"kind": "run", "name": "x" * 10_000},
        [1, 2, 3],
        "just a string",
    ],
)
def test_a_malformed_request_is_a_clear_400(client, default_workspace, body):
    answer = client.post(URL, json.dumps(body), "application/json")
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not Deletion.objects.exists()


def test_json_nested_beyond_reason_is_a_clear_400(client, default_workspace):
    answer = client.post(URL, "[" * 100_000 + "]" * 100_000, "application/json")
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
