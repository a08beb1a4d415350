"""Workspaces through the studio API: listed as the caller may see them, created (in the default
resource group by anyone signed in, in another only by its Owners), renamed by Owners."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tracking.access.models import Membership, Role
from tracking.models import ResourceGroup, Workspace
from tracking.services.workspaces import create_workspace

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def create(browser: Client, name: str, group: str = "default"):
    return browser.post(
        "/api/studio/v1/workspaces",
        data=json.dumps({"name": name, "resource_group": group}),
        content_type="application/json",
    )


def test_the_studio_api_lists_creates_and_renames_workspaces(client, auth_on, team, personal_token):
    token = personal_token(team.owner, team.workspace)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert [w["name"] for w in client.get("/api/studio/v1/workspaces", **headers).json()["workspaces"]] == [
        "team-a"
    ]
    renamed = client.patch(
        "/api/studio/v1/workspaces/team-a",
        data=json.dumps({"name": "team-c"}),
        content_type="application/json",
        **headers,
    )
    assert renamed.json()["workspace"]["name"] == "team-c"
    # A token cannot create workspaces (it is scoped to one); a signed-in person can.
    refused = client.post(
        "/api/studio/v1/workspaces",
        data=json.dumps({"name": "w"}),
        content_type="application/json",
        **headers,
    )
    assert refused.status_code == 403
    created = signed_in(team.reader).post(
        "/api/studio/v1/workspaces",
        data=json.dumps({"name": "w2", "resource_group": "default"}),
        content_type="application/json",
    )
    assert created.status_code == 201


@pytest.mark.parametrize("persona", ["contributor", "reader", "outsider"])
def test_only_owners_rename_through_the_api(client, auth_on, team, personal_token, persona):
    user = team.user(persona)
    if persona == "outsider":
        Membership.objects.create(user=user, workspace=team.other, role=Role.OWNER)
    token = personal_token(user, team.workspace)
    response = client.patch(
        "/api/studio/v1/workspaces/team-a",
        data=json.dumps({"name": "mine"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == (404 if persona == "outsider" else 403)


def test_a_workspace_cannot_be_planted_in_someone_else_s_resource_group(auth_on, team):
    """A workspace added to a group blocks the group's deletion by its Owners."""
    research = ResourceGroup.objects.create(name="research")
    lab = create_workspace(resource_group=research, name="lab")
    Membership.objects.create(user=team.owner, workspace=lab, role=Role.OWNER)
    Membership.objects.create(user=team.contributor, workspace=lab, role=Role.CONTRIBUTOR)

    for persona in ("contributor", "outsider"):
        refused = create(signed_in(team.user(persona)), f"planted-{persona}", "research")
        assert refused.status_code == 403, persona
        assert refused.json()["error_code"] == "PERMISSION_DENIED"
    assert create(signed_in(team.owner), "lab-two", "research").status_code == 201
    assert create(signed_in(team.outsider), "own-one").status_code == 201  # the default group
    assert not Workspace.objects.filter(name__startswith="planted").exists()
    assert Membership.objects.get(workspace__name="own-one").user == team.outsider


def test_an_empty_resource_group_gets_its_first_workspace_from_a_site_administrator(auth_on, team):
    from django.contrib.auth import get_user_model

    ResourceGroup.objects.create(name="empty")
    admin = get_user_model().objects.create_superuser("admin", password="x")
    assert create(signed_in(team.owner), "first", "empty").status_code == 403
    assert create(signed_in(admin), "first", "empty").status_code == 201


def test_bad_workspace_fields_are_refused_with_their_names(auth_on, team):
    browser = signed_in(team.owner)
    for body, field in (
        ({"name": "x" * 64}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "ok", "description": {"a": 1}}, "description"),
    ):
        answer = browser.post(
            "/api/studio/v1/workspaces", data=json.dumps(body), content_type="application/json"
        )
        assert answer.status_code == 400, body
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert f"{field}:" in answer.json()["message"]
