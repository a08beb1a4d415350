"""Writes of people and roles: memberships, and workspaces created with their first Owner."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import ResourceGroup, Workspace
from tracking.services.workspaces import create_workspace

from .models import Membership, Role


def create_workspace_with_owner(
    *, resource_group: ResourceGroup, name: str, description: str = "", owner: AbstractBaseUser | None
) -> Workspace:
    """A new workspace whose creator (if signed in) is its first Owner."""
    with transaction.atomic():
        workspace = create_workspace(resource_group=resource_group, name=name, description=description)
        if owner is not None:
            Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    return workspace


def set_member(*, workspace: Workspace, username: str, role: str) -> Membership:
    """Add a person to the workspace with a role, or change their role."""
    if role not in Role.values:
        raise InvalidParameterValue(f"Unknown role '{role}'; use one of {', '.join(Role.labels)}.")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ResourceDoesNotExist(f"No user named '{username}'.")
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            user=user, workspace=workspace, defaults={"role": role}
        )
        if not created and membership.role != role:
            _keep_an_owner(workspace, leaving=membership)
            membership.role = role
            membership.save(update_fields=["role"])
    return membership


def remove_member(*, workspace: Workspace, membership_id: int) -> None:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(pk=membership_id, workspace=workspace).first()
        )
        if membership is None:
            raise ResourceDoesNotExist("No such member.")
        _keep_an_owner(workspace, leaving=membership)
        membership.delete()


def _keep_an_owner(workspace: Workspace, *, leaving: Membership) -> None:
    if leaving.role != Role.OWNER:
        return
    others = Membership.objects.filter(workspace=workspace, role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise InvalidParameterValue("A workspace keeps at least one Owner; make someone else Owner first.")
