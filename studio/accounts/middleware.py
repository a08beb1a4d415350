"""The access check of every studio page and studio API endpoint, from what the URL resolved to.

It runs once the URL is resolved (`process_view`) and reads the access the route declares
(studio.routing): a public route passes; a self-checked one (MLflow's API) checks itself; any
other needs an authenticated caller; a workspace route also needs the caller's role in the
workspace the route names to allow the view's permission, and hands the view that Workspace.
Outside one's workspaces the answer is the same 404 as for a workspace that does not exist.
A route that declares nothing is refused: access is never a default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.routing import WORKSPACE_KWARG, Reach, access_of
from tracking.access import gate
from tracking.api.responses import error_response
from tracking.errors import MlflowError, PermissionDenied, Unauthenticated
from tracking.workspaces import resolve_workspace


class RouteAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        access = access_of(view_func)
        if access is None:
            raise ImproperlyConfigured(
                f"The route of {request.path} declares no access (see studio.routing)."
            )
        if access.reach in (Reach.PUBLIC, Reach.SELF_CHECKED):
            return None
        is_api = request.path.startswith("/api/")
        try:
            principal = gate.authenticate(request)
        except Unauthenticated as error:
            return error_response(error) if is_api else redirect_to_login(request.get_full_path())
        except PermissionDenied as error:
            return error_response(error) if is_api else _page(request, "studio/accounts/403.html", error, 403)
        request.principal = principal
        if access.reach is Reach.SIGNED_IN:
            return None
        try:
            workspace = resolve_workspace(view_kwargs[WORKSPACE_KWARG])
            request.workspace_role = gate.authorize(
                principal, workspace, access.permission_for(request.method)
            )
        except MlflowError as error:
            if is_api:
                return error_response(error)
            if error.http_status == 404:
                return render(request, "studio/404.html", status=404)
            return _page(request, "studio/accounts/403.html", error, 403)
        request.workspace = workspace
        return None


def _page(request: HttpRequest, template: str, error: MlflowError, status: int) -> HttpResponse:
    return render(request, template, {"message": error.message}, status=status)
