"""Resource groups.

GET   /api/studio/v1/resource-groups            the groups with the workspaces the caller may see
POST  /api/studio/v1/resource-groups            {"name", "description"?}: 201 (site administrators)
PATCH /api/studio/v1/resource-groups/<name>     {"name"?} (site administrators)
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response

from tracking.access.gate import may_manage_resource_groups, visible_workspace_ids
from tracking.errors import PermissionDenied, ResourceDoesNotExist
from tracking.models import ResourceGroup
from tracking.queries.workspaces import resource_groups_with_workspaces
from tracking.services.workspaces import create_resource_group, rename_resource_group

from .endpoints import StudioEndpoint, created
from .workspaces import MAX_DESCRIPTION, MAX_NAME, principal_of


def group_json(group: ResourceGroup) -> dict:
    return {"name": group.name, "description": group.description}


class NewGroup(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_NAME)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION
    )


class GroupChange(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=MAX_NAME)


class ResourceGroups(StudioEndpoint):
    def get(self, request) -> Response:
        principal = principal_of(request)
        visible = visible_workspace_ids(principal)
        listed = []
        for group in resource_groups_with_workspaces():
            names = [w.name for w in group.workspace_list if visible is None or w.pk in visible]
            if names or may_manage_resource_groups(principal):
                listed.append({**group_json(group), "workspaces": names})
        return Response({"resource_groups": listed})

    def post(self, request) -> Response:
        if not may_manage_resource_groups(principal_of(request)):
            raise PermissionDenied("Only site administrators create resource groups.")
        fields = self.valid(NewGroup, request.data)
        group = create_resource_group(name=fields["name"], description=fields["description"])
        return created({"resource_group": group_json(group)}, f"{request.path}/{group.name}")


class ResourceGroupDetail(StudioEndpoint):
    def patch(self, request, group: str) -> Response:
        if not may_manage_resource_groups(principal_of(request)):
            raise PermissionDenied("Only site administrators rename resource groups.")
        found = ResourceGroup.objects.filter(name=group).first()
        if found is None:
            raise ResourceDoesNotExist(f"Resource group '{group}' does not exist.")
        fields = self.valid(GroupChange, request.data)
        if "name" in fields:
            found = rename_resource_group(resource_group=found, name=fields["name"])
        return Response({"resource_group": group_json(found)})
