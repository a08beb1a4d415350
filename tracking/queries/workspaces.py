"""Workspaces and resource groups, with the counts the studio's home page shows."""

from __future__ import annotations

from django.db.models import Count, Q

from tracking.models import ResourceGroup, Workspace


def resource_groups_with_workspaces() -> list[ResourceGroup]:
    """Every resource group, each with `.workspace_list` annotated with experiment and run counts."""
    groups = list(ResourceGroup.objects.order_by("name"))
    workspaces = Workspace.objects.order_by("name").annotate(
        experiment_count=Count("experiments", filter=Q(experiments__lifecycle_stage="active"), distinct=True),
        run_count=Count(
            "experiments__runs",
            filter=Q(experiments__runs__lifecycle_stage="active"),
            distinct=True,
        ),
    )
    by_group: dict[int, list[Workspace]] = {}
    for workspace in workspaces:
        by_group.setdefault(workspace.resource_group_id, []).append(workspace)
    for group in groups:
        group.workspace_list = by_group.get(group.pk, [])
    return groups
