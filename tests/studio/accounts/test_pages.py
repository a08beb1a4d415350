"""The studio with people: log-in (throttled), members, tokens, resource groups, config.json."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.personas import PASSWORD
from tracking.access.models import AccessToken, Membership, Role
from tracking.models import ResourceGroup, Workspace

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


# --- Log-in ------------------------------------------------------------------------------------


def test_with_auth_on_a_page_sends_an_anonymous_visitor_to_the_log_in(client, auth_on, team):
    response = client.get("/ws/team-a/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/ws/team-a/"
    assert client.get("/").status_code == 302


def test_in_local_mode_the_studio_works_anonymously(client, team):
    assert client.get("/ws/team-a/").status_code == 200
    assert client.get("/ws/team-a/members/").status_code == 200
    groups = client.get("/resource-groups/")
    assert groups.status_code == 200 and b"New resource group" in groups.content
    assert b"Sign in to create personal access tokens" in client.get("/ws/team-a/tokens/").content


def test_signing_in_leads_to_the_page_asked_for(client, auth_on, team):
    response = client.post("/login/", {"username": "reader", "password": PASSWORD, "next": "/ws/team-a/"})
    assert response.status_code == 302 and response["Location"] == "/ws/team-a/"
    assert client.get("/ws/team-a/").status_code == 200


def test_the_log_in_does_not_redirect_to_another_site(client, auth_on, team):
    response = client.post(
        "/login/", {"username": "reader", "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert response["Location"] == "/"


def test_log_in_attempts_are_throttled_per_user_name_and_address(client, auth_on, team, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert (
            b"Wrong user name or password"
            in client.post("/login/", {"username": "reader", "password": "x"}).content
        )
    locked = client.post("/login/", {"username": "reader", "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another user name from the same address is not locked out.
    assert client.post("/login/", {"username": "owner", "password": PASSWORD}).status_code == 302


def test_log_in_and_log_out_forms_need_the_csrf_token(auth_on, team):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/login/", {"username": "reader", "password": PASSWORD}).status_code == 403
    page = browser.get("/login/")
    assert b"csrfmiddlewaretoken" in page.content
    csrf = browser.cookies["csrftoken"].value
    signed = browser.post(
        "/login/", {"username": "reader", "password": PASSWORD, "csrfmiddlewaretoken": csrf}
    )
    assert signed.status_code == 302
    assert browser.post("/logout/").status_code == 403


def test_log_out_is_a_post_not_a_get(auth_on, team):
    browser = signed_in(team.reader)
    assert browser.get("/logout/").status_code == 405
    assert browser.post("/logout/").status_code == 302
    assert browser.get("/ws/team-a/").status_code == 302


# --- Personas on pages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"), [("owner", 200), ("contributor", 200), ("reader", 200), ("outsider", 404)]
)
def test_workspace_pages_are_for_members_only(auth_on, team, persona, status):
    browser = signed_in(team.user(persona))
    for page in ("/ws/team-a/", "/ws/team-a/models/", "/ws/team-a/members/", "/ws/team-a/tokens/"):
        assert browser.get(page).status_code == status, page


def test_the_home_page_lists_only_ones_workspaces(auth_on, team):
    page = signed_in(team.reader).get("/").content.decode()
    assert "/ws/team-a/" in page and "/ws/team-b/" not in page


def test_an_owner_adds_members_and_sets_their_roles(auth_on, team):
    owner = signed_in(team.owner)
    response = owner.post("/ws/team-a/members/set", {"username": "outsider", "role": "contributor"})
    assert response.status_code == 302
    assert Membership.objects.get(user=team.outsider, workspace=team.workspace).role == Role.CONTRIBUTOR
    owner.post("/ws/team-a/members/set", {"username": "outsider", "role": "reader"})
    assert Membership.objects.get(user=team.outsider, workspace=team.workspace).role == Role.READER
    membership = Membership.objects.get(user=team.outsider, workspace=team.workspace)
    owner.post(f"/ws/team-a/members/{membership.pk}/remove")
    assert not Membership.objects.filter(user=team.outsider, workspace=team.workspace).exists()


@pytest.mark.parametrize("persona", ["contributor", "reader"])
def test_only_owners_manage_members(auth_on, team, persona):
    browser = signed_in(team.user(persona))
    response = browser.post("/ws/team-a/members/set", {"username": "outsider", "role": "owner"})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=team.outsider).exists()
    page = browser.get("/ws/team-a/members/").content.decode()
    assert "Add a member" not in page


def test_an_outsider_cannot_add_themself(auth_on, team):
    response = signed_in(team.outsider).post(
        "/ws/team-a/members/set", {"username": "outsider", "role": "owner"}
    )
    assert response.status_code == 404


def test_a_workspace_keeps_at_least_one_owner(auth_on, team):
    owner = signed_in(team.owner)
    mine = Membership.objects.get(user=team.owner, workspace=team.workspace)
    owner.post(f"/ws/team-a/members/{mine.pk}/remove")
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_removing_a_member_is_not_possible_by_get(auth_on, team):
    membership = Membership.objects.get(user=team.reader, workspace=team.workspace)
    assert signed_in(team.owner).get(f"/ws/team-a/members/{membership.pk}/remove").status_code == 405


# --- Tokens ------------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_then_only_by_its_prefix(auth_on, team):
    browser = signed_in(team.reader)
    created = browser.post("/ws/team-a/tokens/create", {"name": "laptop", "days": "30"})
    assert created.status_code == 302  # a reload of the next page makes no second token
    shown = browser.get(created["Location"])
    assert shown["Cache-Control"] == "no-store"
    secret = shown.context["new_secret"]
    assert secret.startswith("stp_") and secret in shown.content.decode()
    assert "studio_new_token_secret" not in browser.session
    listing = browser.get("/ws/team-a/tokens/").content.decode()
    assert secret not in listing
    assert AccessToken.objects.filter(user=team.reader).count() == 1
    assert AccessToken.objects.get(user=team.reader).prefix in listing


def test_a_token_is_revoked_by_post_and_only_by_its_owner(auth_on, team, personal_token):
    personal_token(team.reader, team.workspace)
    token = AccessToken.objects.get(user=team.reader)
    assert signed_in(team.reader).get(f"/ws/team-a/tokens/{token.pk}/revoke").status_code == 405
    assert signed_in(team.owner).post(f"/ws/team-a/tokens/{token.pk}/revoke").status_code == 404
    assert signed_in(team.reader).post(f"/ws/team-a/tokens/{token.pk}/revoke").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


# --- Tenancy and config.json -------------------------------------------------------------------


def test_config_json_names_the_server_the_resource_group_and_the_workspace(auth_on, team):
    response = signed_in(team.reader).get("/ws/team-a/config.json")
    assert response["Content-Disposition"] == 'attachment; filename="config.json"'
    assert json.loads(response.content) == {
        "server": "http://testserver",
        "resource_group": "default",
        "workspace": "team-a",
    }


def test_a_signed_in_person_creates_a_workspace_and_owns_it(auth_on, team):
    group = ResourceGroup.objects.get(name="default")
    response = signed_in(team.outsider).post(
        "/resource-groups/", {"action": "create-workspace", "group": group.pk, "name": "solo"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(workspace__name="solo").user == team.outsider


def test_resource_groups_are_created_and_renamed_by_site_administrators(auth_on, team):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("admin", password=PASSWORD)
    signed_in(team.owner).post("/resource-groups/", {"action": "create-group", "name": "nope"})
    assert not ResourceGroup.objects.filter(name="nope").exists()
    signed_in(admin).post("/resource-groups/", {"action": "create-group", "name": "research"})
    group = ResourceGroup.objects.get(name="research")
    signed_in(admin).post("/resource-groups/", {"action": "rename-group", "group": group.pk, "name": "lab"})
    assert ResourceGroup.objects.get(pk=group.pk).name == "lab"


def test_an_owner_renames_the_workspace_and_its_uri_follows(auth_on, team, personal_token):
    token = personal_token(team.owner, team.workspace)
    assert signed_in(team.contributor).post("/ws/team-a/settings/rename", {"name": "x"}).status_code == 403
    response = signed_in(team.owner).post(
        "/ws/team-a/settings/rename", {"name": "team-z", "description": "d"}
    )
    assert response["Location"] == "/ws/team-z/settings/"
    assert Workspace.objects.get(pk=team.workspace.pk).name == "team-z"
    api = Client().get(
        "/ws/team-z/api/2.0/mlflow/experiments/get?experiment_id=0", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert api.status_code == 200


def test_cookies_are_secure_when_the_server_listens_beyond_loopback():
    import subprocess
    import sys

    code = "import django; django.setup(); from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.STUDIO_REQUIRE_AUTH)"
    for host, expected in (("0.0.0.0", "True True True"), ("127.0.0.1", "False False False")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={
                **__import__("os").environ,
                "STUDIO_HOST": host,
                "DJANGO_SETTINGS_MODULE": "studio.settings",
            },
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert out == expected, host


def _settings_of(**environment: str) -> dict:
    import json
    import os
    import subprocess
    import sys

    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE, "
        "'require_auth': s.STUDIO_REQUIRE_AUTH, 'hsts': s.SECURE_HSTS_SECONDS, "
        "'proxy_ssl': getattr(s, 'SECURE_PROXY_SSL_HEADER', None)}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", **environment}
    return json.loads(
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
    )


def test_behind_a_trusted_https_proxy_on_loopback_cookies_are_secure_and_hsts_is_sent():
    """Found in a review: sign-in required behind a reverse proxy on loopback gave cookies that were
    not Secure, and the proxy's scheme header could not be trusted."""
    plain = _settings_of(STUDIO_HOST="127.0.0.1", STUDIO_REQUIRE_AUTH="true")
    proxied = _settings_of(
        STUDIO_HOST="127.0.0.1", STUDIO_REQUIRE_AUTH="true", STUDIO_TRUST_PROXY_HEADERS="true"
    )

    assert (plain["session_secure"], plain["hsts"], plain["proxy_ssl"]) == (False, 0, None)
    assert (proxied["session_secure"], proxied["csrf_secure"]) == (True, True)
    assert proxied["hsts"] == 365 * 24 * 3600
    assert proxied["proxy_ssl"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_a_request_through_the_trusted_proxy_counts_as_https(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    answer = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert answer["Strict-Transport-Security"] == "max-age=3600"
    assert "Strict-Transport-Security" not in client.get("/login/")


@pytest.mark.parametrize("days", [0, -5, 366, 10**9])
def test_every_personal_token_expires_within_the_maximum(auth_on, team, days):
    from tracking.access.tokens import issue_personal_token
    from tracking.errors import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="valid 1 to 365 days"):
        issue_personal_token(user=team.owner, workspace=team.workspace, name="forever", days=days)
    response = signed_in(team.owner).post("/ws/team-a/tokens/create", {"name": "forever", "days": str(days)})
    assert response.status_code == 302
    assert not AccessToken.objects.filter(name="forever").exists()
