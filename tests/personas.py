"""People for access tests: an Owner, a Contributor and a Reader of workspace "team-a", and an
outsider; `auth_on` switches local mode off for one test (the suite runs in local mode)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

PASSWORD = "correct horse battery staple"


def forget_access_caches() -> None:
    from django.core.cache import cache

    from tracking import workspaces
    from tracking.access.gate import forget_roles
    from tracking.access.tokens import forget_tokens

    forget_roles()
    forget_tokens()
    workspaces._cache.clear()
    cache.clear()


@pytest.fixture
def auth_on(settings):
    """Every request must authenticate, as when the server listens beyond loopback."""
    settings.STUDIO_REQUIRE_AUTH = True
    forget_access_caches()
    yield settings
    forget_access_caches()


@dataclass
class Team:
    workspace: Any
    other: Any  # a second workspace where only the owner is a member
    owner: Any
    contributor: Any
    reader: Any
    outsider: Any

    def user(self, persona: str):
        return getattr(self, persona)


@pytest.fixture
def team(db, make_workspace, settings) -> Team:
    from django.contrib.auth import get_user_model

    from tracking.access.models import Membership, Role

    # Password hashing is slow on purpose; tests need it correct, not slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    forget_access_caches()
    users = {
        name: get_user_model().objects.create_user(username=name, password=PASSWORD)
        for name in ("owner", "contributor", "reader", "outsider")
    }
    workspace = make_workspace("team-a")
    other = make_workspace("team-b")
    Membership.objects.bulk_create(
        [
            Membership(user=users["owner"], workspace=workspace, role=Role.OWNER),
            Membership(user=users["contributor"], workspace=workspace, role=Role.CONTRIBUTOR),
            Membership(user=users["reader"], workspace=workspace, role=Role.READER),
            Membership(user=users["owner"], workspace=other, role=Role.OWNER),
        ]
    )
    return Team(workspace=workspace, other=other, **users)


@pytest.fixture
def personal_token():
    """The secret of a new personal access token of `user` in `workspace`."""
    from tracking.access.tokens import issue_personal_token

    def make(user, workspace, **options) -> str:
        return issue_personal_token(user=user, workspace=workspace, name="test", **options).secret

    return make
