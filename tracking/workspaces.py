"""Finding the workspace a request addresses.

Every API call names a workspace, so the look-up is cached in the process for a few seconds;
saving or deleting a workspace clears the cache here, and other processes see the change
within ACCESS_CACHE_SECONDS, as they see a revoked token.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tracking.errors import ResourceDoesNotExist
from tracking.models import Workspace
from tracking.models.workspaces import DEFAULT_WORKSPACE

_cache: dict[str, tuple[float, Workspace]] = {}


def resolve_workspace(name: str | None) -> Workspace:
    """The named workspace (the default one when no name is given), or RESOURCE_DOES_NOT_EXIST."""
    name = name or DEFAULT_WORKSPACE
    now = time.monotonic()
    cached = _cache.get(name)
    if cached is not None and now - cached[0] < settings.ACCESS_CACHE_SECONDS:
        return cached[1]
    try:
        workspace = Workspace.objects.get(name=name)
    except Workspace.DoesNotExist:
        raise ResourceDoesNotExist(f"Workspace '{name}' does not exist.") from None
    _cache[name] = (now, workspace)
    return workspace


@receiver([post_save, post_delete], sender=Workspace)
def _forget_workspaces(**kwargs) -> None:
    _cache.clear()
