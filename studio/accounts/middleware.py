"""The access check of every studio page and studio API view that names a workspace.

It runs once the URL is resolved (`process_view`), so it sees the workspace the view will
show (its `workspace` or `workspace_name` argument) and the permission the view declares with
`@requires(...)`; a view that declares none needs READ for GET and WRITE for anything else.
The MLflow API checks access itself, in `tracking.api.router.dispatch`, from the RPC table.
Outside one's workspaces the answer is the same 404 as for a workspace that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracking.api.responses import error_response
from tracking.errors import MlflowError, PermissionDenied, Unauthenticated
from tracking.workspaces import resolve_workspace

from . import access
from .permissions import Permission

_SAFE = {"GET", "HEAD", "OPTIONS"}


def requires(permission: Permission) -> Callable:
    """Declare what a workspace view needs (the middleware checks it)."""

    def mark(view: Callable) -> Callable:
        view.studio_permission = permission
        return view

    return mark


def public(view: Callable) -> Callable:
    """A view anyone may reach (log-in, health)."""
    view.studio_public = True
    return view


class WorkspaceAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        view = getattr(view_func, "view_class", view_func)
        if getattr(view_func, "access_checked_by_view", False) or getattr(view, "studio_public", False):
            return None
        if getattr(view_func, "studio_public", False):
            return None
        is_api = request.path.startswith("/api/")
        try:
            principal = access.authenticate(request)
        except Unauthenticated as error:
            return error_response(error) if is_api else redirect_to_login(request.get_full_path())
        except PermissionDenied as error:
            return error_response(error) if is_api else _page(request, "studio/accounts/403.html", error, 403)
        request.principal = principal
        name = view_kwargs.get("workspace_name") or view_kwargs.get("workspace")
        if not isinstance(name, str):
            return None
        declared = getattr(view_func, "studio_permission", None) or getattr(view, "studio_permission", None)
        if isinstance(declared, dict):
            declared = declared.get(request.method or "GET")
        permission = declared or (Permission.READ if request.method in _SAFE else Permission.WRITE)
        try:
            workspace = resolve_workspace(name)
            request.workspace_role = access.authorize(principal, workspace, permission)
        except MlflowError as error:
            if is_api:
                return error_response(error)
            if error.http_status == 404:
                return render(request, "studio/404.html", status=404)
            return _page(request, "studio/accounts/403.html", error, 403)
        return None


def _page(request: HttpRequest, template: str, error: MlflowError, status: int) -> HttpResponse:
    return render(request, template, {"message": error.message}, status=status)
