"""Finding the workspace a request addresses."""

from __future__ import annotations

from tracking.errors import ResourceDoesNotExist
from tracking.models import Workspace
from tracking.models.workspaces import DEFAULT_WORKSPACE


def resolve_workspace(name: str | None) -> Workspace:
    """The named workspace (the default one when no name is given), or RESOURCE_DOES_NOT_EXIST."""
    try:
        return Workspace.objects.get(name=name or DEFAULT_WORKSPACE)
    except Workspace.DoesNotExist:
        raise ResourceDoesNotExist(f"Workspace '{name}' does not exist.") from None
