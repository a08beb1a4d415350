"""The permission matrix: every MLflow RPC is classified, in code and in docs/permissions.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracking.access.models import Role
from tracking.access.permissions import (
    OUTSIDE_THE_API,
    RPC_PERMISSIONS,
    Permission,
    permission_for,
    role_allows,
)
from tracking.api.router import ROUTES
from tracking.api.spec import RPCS

DOC = Path(__file__).resolve().parents[3] / "docs" / "permissions.md"


def every_rpc() -> set[str]:
    ROUTES.build()  # registers the extra routes (server-info) too
    names = {message or name for name, message, _ in RPCS}
    for routes in [*ROUTES.static.values(), *(routes for _, routes in ROUTES.patterns)]:
        names.update(route.message or route.rpc for route in routes.values())
    return names | OUTSIDE_THE_API


def test_every_rpc_of_the_protocol_is_classified():
    unclassified = sorted(every_rpc() - set(RPC_PERMISSIONS))
    assert unclassified == [], f"classify these in tracking/access/permissions.py: {unclassified}"


def test_the_table_names_no_rpc_the_protocol_lacks():
    assert sorted(set(RPC_PERMISSIONS) - every_rpc()) == []


def test_the_written_matrix_lists_every_rpc_with_its_permission():
    text = DOC.read_text()
    for name, permission in RPC_PERMISSIONS.items():
        assert f"`{name}`" in text, f"{name} is missing from docs/permissions.md"
        section = text.rindex("### ", 0, text.index(f"| `{name}` |"))
        assert f"(`{permission.value}`)" in text[section : text.index("\n", section)], name


def test_an_unknown_rpc_is_refused_as_owner_only():
    assert permission_for("mlflow.SomethingNew") is Permission.OWNER


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.READER, {Permission.READ}),
        (Role.CONTRIBUTOR, {Permission.READ, Permission.WRITE, Permission.DELETE_OWN}),
        (Role.OWNER, {Permission.READ, Permission.WRITE, Permission.DELETE_OWN, Permission.OWNER}),
    ],
)
def test_each_role_includes_the_roles_below_it(role, allowed):
    workspace_permissions = {Permission.READ, Permission.WRITE, Permission.DELETE_OWN, Permission.OWNER}
    assert {p for p in workspace_permissions if role_allows(role, p)} == allowed


def test_readers_read_contributors_log_and_owners_delete():
    assert permission_for("mlflow.SearchRuns") is Permission.READ
    assert permission_for("mlflow.artifacts.DownloadArtifact") is Permission.READ
    assert permission_for("mlflow.LogMetric") is Permission.WRITE
    assert permission_for("mlflow.CreateModelVersion") is Permission.WRITE
    assert permission_for("mlflow.DeleteRun") is Permission.DELETE_OWN
    assert permission_for("mlflow.DeleteExperiment") is Permission.OWNER
    assert permission_for("mlflow.DeleteRegisteredModel") is Permission.OWNER
    assert permission_for("mlflow.artifacts.DeleteArtifact") is Permission.OWNER
