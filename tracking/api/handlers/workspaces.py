"""MLflow 3's workspace API (`/api/3.0/mlflow/workspaces`), which `MlflowClient.list_workspaces()`
and friends call. Access is checked by the router like every RPC; the list shows only the
workspaces the caller may see. Deleting one queues the same deletion the studio does.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpResponse

from tracking.access.gate import visible_workspace_ids
from tracking.access.services import create_workspace_with_owner
from tracking.deletion.plan import LABELS, make_plan
from tracking.deletion.scope import find_scope
from tracking.errors import InvalidParameterValue, InvalidState
from tracking.models import Deletion, ResourceGroup, Workspace
from tracking.models.workspaces import DEFAULT_RESOURCE_GROUP, DEFAULT_WORKSPACE
from tracking.queries.workspaces import list_workspaces
from tracking.services.deletions import request_deletion
from tracking.services.workspaces import update_workspace
from tracking.workspaces import resolve_workspace

from ..responses import json_response
from ..router import ApiCall, rpc


def workspace_message(workspace: Workspace) -> dict[str, Any]:
    message: dict[str, Any] = {"name": workspace.name}
    if workspace.description:
        message["description"] = workspace.description
    return message


def _no_artifact_root(message: dict[str, Any]) -> None:
    if message.get("default_artifact_root"):
        raise InvalidParameterValue(
            "This server keeps each workspace's artifacts in its own store; default_artifact_root cannot be set."
        )


@rpc("mlflow.ListWorkspaces")
def list_workspaces_rpc(call: ApiCall) -> dict[str, Any]:
    workspaces = list_workspaces(visible_workspace_ids(call.principal))
    return {"workspaces": [workspace_message(workspace) for workspace in workspaces]}


@rpc("mlflow.CreateWorkspace")
def create_workspace_rpc(call: ApiCall) -> HttpResponse:
    _no_artifact_root(call.message)
    group, _ = ResourceGroup.objects.get_or_create(name=DEFAULT_RESOURCE_GROUP)
    owner = get_user_model().objects.get(pk=call.principal.user_id) if call.principal.user_id else None
    workspace = create_workspace_with_owner(
        resource_group=group,
        name=call.message["name"],
        description=call.message.get("description", ""),
        owner=owner,
    )
    return json_response({"workspace": workspace_message(workspace)}, status=201)


@rpc("mlflow.GetWorkspace")
def get_workspace_rpc(call: ApiCall) -> dict[str, Any]:
    return {"workspace": workspace_message(resolve_workspace(call.path_args["workspace_name"]))}


@rpc("mlflow.UpdateWorkspace")
def update_workspace_rpc(call: ApiCall) -> dict[str, Any]:
    _no_artifact_root(call.message)
    workspace = Workspace.objects.get(pk=resolve_workspace(call.path_args["workspace_name"]).pk)
    if "description" in call.message:
        workspace = update_workspace(workspace=workspace, description=call.message["description"])
    return {"workspace": workspace_message(workspace)}


@rpc("mlflow.DeleteWorkspace")
def delete_workspace_rpc(call: ApiCall) -> HttpResponse:
    """Deletes the workspace for good, as the studio's deletion does: its rows and files go in the
    background (`GET /api/studio/v1/deletions/<id>` follows it). The router has checked that the
    caller is an Owner. MLflow's modes: RESTRICT (the default) refuses a workspace that still holds
    anything, CASCADE deletes what it holds; SET_DEFAULT cannot be honoured here, since experiment
    ids are numbered per workspace and would collide with the default workspace's."""
    name = call.path_args["workspace_name"]
    if name == DEFAULT_WORKSPACE:
        raise InvalidState(f"Cannot delete the reserved '{DEFAULT_WORKSPACE}' workspace")
    mode = call.request.GET.get("mode", "RESTRICT").upper()
    if mode not in ("RESTRICT", "CASCADE", "SET_DEFAULT"):
        raise InvalidParameterValue(
            f"Invalid workspace deletion mode '{mode}'. Expected one of: RESTRICT, CASCADE, SET_DEFAULT."
        )
    if mode == "SET_DEFAULT":
        raise InvalidParameterValue(
            "SET_DEFAULT is not supported: experiment ids are numbered per workspace and would collide "
            "with the default workspace's. Use CASCADE to delete what the workspace holds."
        )
    scope = find_scope(Deletion.WORKSPACE, name)
    if mode == "RESTRICT":
        plan = make_plan(scope)
        held = {
            key: plan[key]
            for key in ("runs", "logged_models", "registered_models", "evaluation_datasets", "jobs")
            if plan.get(key)
        }
        if held or plan.get("experiments", 0) > 1:  # its own Default experiment does not count
            held.setdefault("experiments", plan.get("experiments", 0) - 1)
            what = ", ".join(f"{count} {LABELS[key]}" for key, count in held.items() if count)
            raise InvalidState(
                f"Cannot delete workspace '{name}': it still holds {what}. Delete them first, or delete the "
                "workspace with mode=CASCADE."
            )
    request_deletion(scope, confirmation=scope.name, requested_by=call.principal.username)
    return HttpResponse(status=204)
