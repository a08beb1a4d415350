"""The home page: resource groups, their workspaces, and whether a worker is alive."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracking.access.gate import visible_workspace_ids
from tracking.queries.compute import live_workers
from tracking.queries.workspaces import recent_experiments, recent_runs, resource_groups_with_workspaces
from tracking.services.deletions import active_deletions_by_target


def tracking_uri(request: HttpRequest, workspace_name: str | None = None) -> str:
    base = request.build_absolute_uri("/").rstrip("/")
    return base if workspace_name in (None, "default") else f"{base}/ws/{workspace_name}"


def home(request: HttpRequest) -> HttpResponse:
    groups = resource_groups_with_workspaces()
    # Deletions under way are shown as such, with a link to their progress.
    deletions = active_deletions_by_target()
    visible = visible_workspace_ids(request.principal)
    for group in groups:
        if visible is not None:
            group.workspace_list = [w for w in group.workspace_list if w.pk in visible]
        for workspace in group.workspace_list:
            workspace.tracking_uri = tracking_uri(request, workspace.name)
            workspace.deletion = deletions.get(("workspace", workspace.pk))
        group.deletion = deletions.get(("resource_group", group.pk))
        group.holds_default = any(workspace.is_default for workspace in group.workspace_list)
    workers = list(live_workers())
    return render(
        request,
        "studio/home.html",
        {
            "groups": groups,
            "workers": workers,
            "default_tracking_uri": tracking_uri(request),
            "recent_experiments": recent_experiments(visible),
            "recent_runs": recent_runs(visible),
        },
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "studio/404.html", status=404)
