"""Workspaces and resource groups, with the counts the studio's home page shows."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from registry.models import RegisteredModel
from tracking.models import Experiment, ResourceGroup, Run, Workspace


def _count(rows: QuerySet, workspace_path: str) -> Subquery:
    # A correlated COUNT per workspace: joining experiments, runs and models in one query would
    # multiply their rows (10,000 runs times every model) before counting.
    counted = rows.filter(**{workspace_path: OuterRef("pk")}).order_by().values(workspace_path)
    return Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField())


def resource_groups_with_workspaces() -> list[ResourceGroup]:
    """Every resource group, each with `.workspace_list` annotated with counts of active
    experiments, active runs and registered models (and the storage last measured)."""
    groups = list(ResourceGroup.objects.order_by("name"))
    workspaces = Workspace.objects.order_by("name").annotate(
        experiment_count=Coalesce(
            _count(Experiment.objects.filter(lifecycle_stage="active"), "workspace"), 0
        ),
        run_count=Coalesce(_count(Run.objects.filter(lifecycle_stage="active"), "experiment__workspace"), 0),
        model_count=Coalesce(_count(RegisteredModel.objects.all(), "workspace"), 0),
    )
    by_group: dict[int, list[Workspace]] = {}
    for workspace in workspaces:
        by_group.setdefault(workspace.resource_group_id, []).append(workspace)
    for group in groups:
        group.workspace_list = by_group.get(group.pk, [])
    return groups


def recent_experiments(workspace_ids: set[int] | None, limit: int = 6) -> list[Experiment]:
    """The active experiments changed last (a run logged, a tag set), with their workspace."""
    rows = Experiment.objects.filter(lifecycle_stage="active").select_related("workspace")
    if workspace_ids is not None:
        rows = rows.filter(workspace_id__in=workspace_ids)
    return list(rows.order_by("-updated_at", "-pk")[:limit])


def recent_runs(workspace_ids: set[int] | None, limit: int = 8) -> list[Run]:
    """The active runs created last, with their experiment and workspace.

    By id rather than start time: the primary key's index is walked backwards and stops after
    `limit` rows, where sorting by start time would sort every run (600 ms at 10,000 runs).
    """
    rows = Run.objects.filter(lifecycle_stage="active").select_related("experiment__workspace")
    if workspace_ids is not None:
        rows = rows.filter(experiment__workspace_id__in=workspace_ids)
    return list(rows.order_by("-pk")[:limit])


def list_workspaces(ids: set[int] | None = None) -> list[Workspace]:
    """Workspaces by name, with their resource group; only `ids` when given (None: all)."""
    workspaces = Workspace.objects.select_related("resource_group").order_by("name")
    if ids is not None:
        workspaces = workspaces.filter(pk__in=ids)
    return list(workspaces)
