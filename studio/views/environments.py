"""Studio pages: a workspace's job environments (what each installs, its size, when it was last
used and by how many jobs), each with a delete button. Environments are made by the worker when a
job needs one; deleting one only removes the cache (the next job that needs it builds it again)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from studio.routing import workspace_route
from tracking.errors import MlflowError, ResourceDoesNotExist
from tracking.models import Workspace
from tracking.queries.environments import get_environment, list_environments
from tracking.services.environments import delete_environment


def _page(request: HttpRequest, workspace: Workspace, *, error: str = "", status: int = 200) -> HttpResponse:
    return render(
        request,
        "studio/environments/list.html",
        {
            "workspace": workspace,
            "area": "environments",
            "environments": list(list_environments(workspace)),
            "error": error,
        },
        status=status,
    )


@require_GET
def environment_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return _page(request, workspace)


@require_POST
def environment_delete(request: HttpRequest, workspace: Workspace, environment_id: int) -> HttpResponse:
    try:
        delete_environment(environment=get_environment(workspace, environment_id))
    except ResourceDoesNotExist:
        return _page(request, workspace, error=f"No environment {environment_id}.", status=404)
    except MlflowError as refused:
        return _page(request, workspace, error=refused.message, status=refused.http_status)
    return HttpResponseRedirect(reverse("environments", args=[workspace.name]), status=303)


urlpatterns = [
    workspace_route("ws/<slug:workspace>/environments/", environment_list, name="environments"),
    workspace_route(
        "ws/<slug:workspace>/environments/<id:environment_id>/delete",
        environment_delete,
        name="environment-delete",
    ),
]
