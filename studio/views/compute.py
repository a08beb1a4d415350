"""Studio page: the compute targets jobs run on, each with its live workers (machine, heartbeat,
slots) and the jobs running and waiting on it, as Azure ML's Compute page lists clusters."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from studio.routing import workspace_route
from tracking.models import Workspace
from tracking.queries.compute import target_summaries


@require_GET
def compute_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return render(
        request,
        "studio/compute/list.html",
        {"workspace": workspace, "area": "compute", "targets": target_summaries(workspace)},
    )


urlpatterns = [
    workspace_route("ws/<slug:workspace>/compute/", compute_list, name="compute"),
]
