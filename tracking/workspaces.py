"""Finding the workspace a request addresses.

Every API call names a workspace, so the look-up is cached in the process for a few seconds;
saving or deleting a workspace clears the cache here, and other processes see the change
within ACCESS_CACHE_SECONDS, as they see a revoked token.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tracking.errors import ResourceDoesNotExist
from tracking.models import Workspace
from tracking.models.workspaces import DEFAULT_WORKSPACE
from tracking.timed_cache import MISSING, TimedCache

_cache: TimedCache[Workspace] = TimedCache(max_entries=10_000, seconds=lambda: settings.ACCESS_CACHE_SECONDS)


def resolve_workspace(name: str | None) -> Workspace:
    """The named workspace (the default one when no name is given), or RESOURCE_DOES_NOT_EXIST."""
    name = name or DEFAULT_WORKSPACE
    cached = _cache.get(name)
    if cached is not MISSING:
        return cached
    try:
        # Pages name the workspace's resource group: read with it, the cached workspace carries it.
        workspace = Workspace.objects.select_related("resource_group").get(name=name)
    except Workspace.DoesNotExist:
        raise ResourceDoesNotExist(f"Workspace '{name}' does not exist.") from None
    _cache.put(name, workspace)
    return workspace


@receiver([post_save, post_delete], sender=Workspace)
def _forget_workspaces(**kwargs) -> None:
    _cache.clear()
