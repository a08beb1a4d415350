"""Workspaces, and the tracking tokens the SDK fetches for one.

GET   /api/studio/v1/workspaces                           the workspaces the caller may see
POST  /api/studio/v1/workspaces                           {"name", "resource_group"?, "description"?}: 201
GET   /api/studio/v1/workspaces/<ws>                      one workspace (Reader and above)
PATCH /api/studio/v1/workspaces/<ws>                      {"name"?, "description"?} (Owner)
POST  /api/studio/v1/workspaces/<ws>/tracking-token       a tracking token, valid an hour
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.response import Response

from studio.routing import requires
from tracking.access.gate import Principal, authorize_workspace_creation, visible_workspace_ids
from tracking.access.models import AccessToken, TokenKind
from tracking.access.permissions import Permission
from tracking.access.services import create_workspace_with_owner
from tracking.access.tokens import issue_tracking_token
from tracking.errors import PermissionDenied, ResourceDoesNotExist, Unauthenticated
from tracking.models import ResourceGroup, Workspace
from tracking.models.workspaces import DEFAULT_RESOURCE_GROUP
from tracking.queries.workspaces import list_workspaces
from tracking.services.workspaces import rename_workspace, update_workspace

from .endpoints import StudioEndpoint, created

MAX_NAME = 63
MAX_DESCRIPTION = 5000


def principal_of(request) -> Principal:
    return request._request.principal  # set by the access middleware for every non-public route


def current_user(principal: Principal):
    return get_user_model().objects.get(pk=principal.user_id) if principal.user_id else None


def workspace_json(workspace: Workspace) -> dict[str, Any]:
    return {
        "name": workspace.name,
        "resource_group": workspace.resource_group.name,
        "description": workspace.description,
        "created_at": workspace.created_at.isoformat(),
    }


class NewWorkspace(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_NAME)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION
    )
    resource_group = serializers.CharField(
        required=False, default=DEFAULT_RESOURCE_GROUP, max_length=MAX_NAME
    )


class WorkspaceChange(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=MAX_NAME)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)


class Workspaces(StudioEndpoint):
    def get(self, request) -> Response:
        visible = visible_workspace_ids(principal_of(request))
        return Response({"workspaces": [workspace_json(w) for w in list_workspaces(visible)]})

    def post(self, request) -> Response:
        principal = principal_of(request)
        fields = self.valid(NewWorkspace, request.data)
        group = ResourceGroup.objects.filter(name=fields["resource_group"]).first()
        if group is None:
            raise ResourceDoesNotExist(f"Resource group '{fields['resource_group']}' does not exist.")
        authorize_workspace_creation(principal, group)
        workspace = create_workspace_with_owner(
            resource_group=group,
            name=fields["name"],
            description=fields["description"],
            owner=current_user(principal),
        )
        return created({"workspace": workspace_json(workspace)}, f"{request.path}/{workspace.name}")


@requires({"GET": Permission.READ, "PATCH": Permission.OWNER})
class WorkspaceDetail(StudioEndpoint):
    def get(self, request, workspace: Workspace) -> Response:
        return Response({"workspace": workspace_json(workspace)})

    def patch(self, request, workspace: Workspace) -> Response:
        fields = self.valid(WorkspaceChange, request.data)
        workspace = Workspace.objects.select_related("resource_group").get(pk=workspace.pk)
        if "name" in fields and fields["name"] != workspace.name:
            workspace = rename_workspace(workspace=workspace, name=fields["name"])
        if "description" in fields:
            workspace = update_workspace(workspace=workspace, description=fields["description"])
        return Response({"workspace": workspace_json(workspace)})


@requires(Permission.READ)
class TrackingToken(StudioEndpoint):
    def post(self, request, workspace: Workspace) -> Response:
        """A tracking token for the workspace, valid TRACKING_TOKEN_SECONDS.

        Only a person can ask (a personal access token, a password or a session): a tracking
        token cannot buy another, so a leaked one dies with its hour.
        """
        principal = principal_of(request)
        if principal.user_id is None:
            raise Unauthenticated("Tracking tokens are issued to people: send a personal access token.")
        if principal.token is not None and principal.token.kind != TokenKind.PERSONAL:
            raise PermissionDenied("Only a personal access token can fetch tracking tokens.")
        parent = AccessToken.objects.get(pk=principal.token.token_id) if principal.token else None
        issued = issue_tracking_token(user=current_user(principal), workspace=workspace, parent=parent)
        return Response(
            {
                "token": issued.secret,
                "expires_at": issued.expires_at.isoformat(),
                "expires_in": settings.TRACKING_TOKEN_SECONDS,
                "workspace": workspace.name,
            }
        )
