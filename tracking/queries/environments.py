"""Reading jobs' environments: a workspace's, with how many jobs used each, and one by id."""

from __future__ import annotations

from django.db.models import Count, F, QuerySet

from tracking.errors import ResourceDoesNotExist
from tracking.models import Environment, Workspace


def list_environments(workspace: Workspace, *, limit: int = 200) -> QuerySet[Environment]:
    """Most recently used first, each with `job_count` (one query)."""
    return (
        Environment.objects.filter(workspace=workspace)
        .select_related("workspace")
        .annotate(job_count=Count("jobs"))
        .order_by(F("last_used_at").desc(nulls_last=True), "-pk")[:limit]
    )


def get_environment(workspace: Workspace, environment_id: int) -> Environment:
    environment = (
        Environment.objects.filter(pk=environment_id, workspace=workspace).select_related("workspace").first()
    )
    if environment is None:
        raise ResourceDoesNotExist(
            f"Environment {environment_id} does not exist in workspace '{workspace.name}'."
        )
    return environment
