"""Who may delete what, and who may follow a deletion: the access rules of deletions for good.

- A run: its own Contributor, or an Owner of its workspace.
- An experiment or a workspace: an Owner of the workspace.
- A resource group: an Owner of every workspace in it (an empty group: a site administrator).

What the caller may not see is RESOURCE_DOES_NOT_EXIST, worded as for a name nobody uses, and
it is decided before anything inside a workspace is looked up, so a refusal never tells an
outsider which experiments or runs exist.
"""

from __future__ import annotations

from tracking.access.gate import Principal, authorize, check_own_run, not_found, role_in
from tracking.access.models import Role
from tracking.access.permissions import Permission
from tracking.errors import PermissionDenied, ResourceDoesNotExist
from tracking.models import Deletion, Workspace
from tracking.workspaces import resolve_workspace

from .scope import Scope, find_scope


def _may_do_anything(principal: Principal) -> bool:
    return principal.anonymous or (principal.is_superuser and principal.token is None)


def authorize_deletion(principal: Principal, scope: Scope) -> None:
    """RESOURCE_DOES_NOT_EXIST for what the principal may not see, PERMISSION_DENIED for what
    they may see but not delete."""
    if _may_do_anything(principal):
        return
    if scope.kind == Deletion.RUN:
        workspace = scope.workspaces[0]
        role = authorize(principal, workspace, Permission.DELETE_OWN)
        check_own_run(principal, workspace, role, scope.target.uuid)
    elif scope.kind != Deletion.RESOURCE_GROUP:
        authorize(principal, scope.workspaces[0], Permission.OWNER)
    elif not any(role_in(principal, workspace) for workspace in scope.workspaces):
        raise ResourceDoesNotExist(f"Resource group '{scope.name}' does not exist.")
    elif any(role_in(principal, workspace) != Role.OWNER for workspace in scope.workspaces):
        raise PermissionDenied("Deleting a resource group takes being an Owner of every workspace in it.")


def find_scope_for(principal: Principal, kind: str, name: str, workspace_name: str | None) -> Scope:
    """The scope `find_scope` gives, found only inside workspaces the principal may see, and
    authorized for deletion."""
    if kind in (Deletion.EXPERIMENT, Deletion.RUN) and not _may_do_anything(principal):
        workspace = resolve_workspace(workspace_name)
        if role_in(principal, workspace) is None:
            raise not_found(workspace.name)
    scope = find_scope(kind, name, workspace_name)
    authorize_deletion(principal, scope)
    return scope


def visible_deletion(principal: Principal, pk: int) -> Deletion:
    """The deletion, if the principal asked for it or may read where it happens."""
    row = Deletion.objects.filter(pk=pk).first()
    if row is None:
        raise ResourceDoesNotExist(f"Deletion {pk} does not exist.")
    if _may_do_anything(principal):
        return row
    if row.requested_by and row.requested_by == principal.username:
        return row
    workspace = Workspace.objects.filter(name=row.workspace_name).first() if row.workspace_name else None
    if workspace is not None and role_in(principal, workspace) is not None:
        return row
    raise ResourceDoesNotExist(f"Deletion {pk} does not exist.")
