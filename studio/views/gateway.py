"""The studio's AI gateway page: a workspace's endpoints (their models, fallbacks and bindings),
model definitions, provider secrets and budget policies with their current windows.

A secret is shown by its masked preview only (`masked_values`, made when it was written): the page
never opens a secret, and `tests/studio/test_gateway_pages.py` scans every GenAI page for the
secret's characters. The reads are `tracking.queries.gateway_pages`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from studio.routing import workspace_route
from tracking.models import Workspace
from tracking.queries.gateway_pages import gateway_overview


@require_GET
def gateway(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    overview = gateway_overview(workspace, now=timezone.now())
    return render(
        request,
        "studio/gateway/overview.html",
        {
            "workspace": workspace,
            "area": "gateway",
            "overview": overview,
            "empty": not (overview.endpoints or overview.definitions or overview.secrets or overview.budgets),
        },
    )


urlpatterns = [workspace_route("ws/<slug:workspace>/gateway/", gateway, name="gateway")]
