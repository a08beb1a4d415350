"""Studio pages and API of people and tenancy: log-in, members, tokens, resource groups,
workspace settings and config.json; and the studio API the SDK calls for tracking tokens.

Access is checked by `WorkspaceAccessMiddleware` from each view's `@requires(...)`; a view
here only checks what the middleware cannot know (a token is the caller's own, say).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracking.api.responses import error_response, json_response
from tracking.errors import (
    InvalidParameterValue,
    MlflowError,
    PermissionDenied,
    ResourceDoesNotExist,
    Unauthenticated,
)
from tracking.models import ResourceGroup, Workspace
from tracking.queries.workspaces import list_workspaces, resource_groups_with_workspaces
from tracking.services.workspaces import (
    create_resource_group,
    rename_resource_group,
    rename_workspace,
    update_workspace,
)
from tracking.workspaces import resolve_workspace

from . import throttle
from .access import Principal, visible_workspace_ids
from .middleware import public, requires
from .models import AccessToken, Membership, Role, TokenKind
from .permissions import Permission
from .services import create_workspace_with_owner, remove_member, set_member
from .tokens import issue_personal_token, issue_tracking_token, revoke_token

# --- Log-in -----------------------------------------------------------------------------------


@public
@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = "/"
    error, status = "", 200
    username = ""
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        address = throttle.client_address(request)
        if throttle.is_locked(username, address):
            error, status = throttle.LOCKED_MESSAGE, 429
        else:
            user = authenticate(request, username=username, password=request.POST.get("password", ""))
            if user is None:
                throttle.record_failure(username, address)
                error, status = "Wrong user name or password.", 200
            else:
                throttle.clear(username, address)
                login(request, user)
                return redirect(next_url)
    return render(
        request,
        "studio/accounts/login.html",
        {"error": error, "next": next_url, "username": username},
        status=status,
    )


@public
@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


# --- Resource groups and workspaces ------------------------------------------------------------


def _principal(request: HttpRequest) -> Principal:
    return request.principal  # set by the middleware for every non-public view


def _may_manage_groups(principal: Principal) -> bool:
    return principal.anonymous or (principal.is_superuser and principal.token is None)


def _may_create_workspaces(principal: Principal) -> bool:
    return principal.anonymous or (principal.user_id is not None and principal.token is None)


def _current_user(principal: Principal):
    return get_user_model().objects.get(pk=principal.user_id) if principal.user_id else None


@require_http_methods(["GET", "POST"])
def resource_groups(request: HttpRequest) -> HttpResponse:
    principal = _principal(request)
    if request.method == "POST":
        try:
            _change_tenancy(request, principal)
        except MlflowError as error:
            messages.error(request, error.message)
        return redirect("resource-groups")
    visible = visible_workspace_ids(principal)
    groups = resource_groups_with_workspaces()
    for group in groups:
        group.workspace_list = [w for w in group.workspace_list if visible is None or w.pk in visible]
    if not _may_manage_groups(principal):
        groups = [group for group in groups if group.workspace_list]
    return render(
        request,
        "studio/accounts/resource_groups.html",
        {
            "groups": groups,
            "all_groups": ResourceGroup.objects.order_by("name"),
            "may_manage_groups": _may_manage_groups(principal),
            "may_create_workspaces": _may_create_workspaces(principal),
        },
    )


def _change_tenancy(request: HttpRequest, principal: Principal) -> None:
    action = request.POST.get("action")
    name = request.POST.get("name", "").strip()
    if action in ("create-group", "rename-group"):
        if not _may_manage_groups(principal):
            raise PermissionDenied("Only site administrators create and rename resource groups.")
        if action == "create-group":
            create_resource_group(name=name, description=request.POST.get("description", "").strip())
            messages.success(request, f"Resource group {name} created.")
        else:
            group = ResourceGroup.objects.filter(pk=request.POST.get("group")).first()
            if group is None:
                raise ResourceDoesNotExist("No such resource group.")
            rename_resource_group(resource_group=group, name=name)
            messages.success(request, f"Resource group renamed to {name}.")
    elif action == "create-workspace":
        if not _may_create_workspaces(principal):
            raise PermissionDenied("Sign in to create workspaces.")
        group = ResourceGroup.objects.filter(pk=request.POST.get("group")).first()
        if group is None:
            raise ResourceDoesNotExist("No such resource group.")
        create_workspace_with_owner(
            resource_group=group,
            name=name,
            description=request.POST.get("description", "").strip(),
            owner=_current_user(principal),
        )
        messages.success(request, f"Workspace {name} created; you are its Owner.")
    else:
        raise InvalidParameterValue("Unknown action.")


@require_GET
def workspace_settings(request: HttpRequest, workspace: str) -> HttpResponse:
    ws = resolve_workspace(workspace)
    return render(
        request,
        "studio/accounts/settings.html",
        {"workspace": ws, "area": "settings", "is_owner": request.workspace_role == Role.OWNER},
    )


@requires(Permission.OWNER)
@require_POST
def workspace_rename(request: HttpRequest, workspace: str) -> HttpResponse:
    ws = Workspace.objects.get(pk=resolve_workspace(workspace).pk)
    try:
        if request.POST.get("name", "").strip() not in ("", ws.name):
            rename_workspace(workspace=ws, name=request.POST["name"].strip())
        update_workspace(workspace=ws, description=request.POST.get("description", "").strip())
    except MlflowError as error:
        messages.error(request, error.message)
        return redirect("workspace-settings", workspace=workspace)
    messages.success(request, "Workspace saved.")
    return redirect("workspace-settings", workspace=ws.name)


@require_GET
def config_json(request: HttpRequest, workspace: str) -> HttpResponse:
    """What `studio_sdk.Workspace.from_config()` reads; no secret goes into it."""
    ws = resolve_workspace(workspace)
    body = {
        "server": request.build_absolute_uri("/").rstrip("/"),
        "resource_group": ws.resource_group.name,
        "workspace": ws.name,
    }
    response = HttpResponse(json.dumps(body, indent=2) + "\n", content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="config.json"'
    return response


# --- Members ---------------------------------------------------------------------------------


@require_GET
def members(request: HttpRequest, workspace: str) -> HttpResponse:
    ws = resolve_workspace(workspace)
    memberships = Membership.objects.filter(workspace=ws).select_related("user").order_by("user__username")
    return render(
        request,
        "studio/accounts/members.html",
        {
            "workspace": ws,
            "area": "members",
            "memberships": memberships,
            "roles": Role.choices,
            "is_owner": request.workspace_role == Role.OWNER,
        },
    )


@requires(Permission.OWNER)
@require_POST
def member_set(request: HttpRequest, workspace: str) -> HttpResponse:
    ws = resolve_workspace(workspace)
    username = request.POST.get("username", "").strip()
    try:
        set_member(workspace=ws, username=username, role=request.POST.get("role", ""))
        messages.success(request, f"{username} is now {Role(request.POST['role']).label}.")
    except MlflowError as error:
        messages.error(request, error.message)
    return redirect("members", workspace=workspace)


@requires(Permission.OWNER)
@require_POST
def member_remove(request: HttpRequest, workspace: str, membership_id: int) -> HttpResponse:
    try:
        remove_member(workspace=resolve_workspace(workspace), membership_id=membership_id)
        messages.success(request, "Member removed.")
    except MlflowError as error:
        messages.error(request, error.message)
    return redirect("members", workspace=workspace)


# --- Tokens ----------------------------------------------------------------------------------


@require_GET
def tokens(request: HttpRequest, workspace: str) -> HttpResponse:
    # A new token's secret waits in the session for this one page view (post/redirect/get, so a
    # reload does not make another token), and is gone from it once shown.
    return _tokens_page(request, resolve_workspace(workspace), request.session.pop(_NEW_SECRET, None))


_NEW_SECRET = "studio_new_token_secret"


def _tokens_page(request: HttpRequest, ws: Workspace, new_secret: str | None = None) -> HttpResponse:
    principal = _principal(request)
    mine = (
        AccessToken.objects.filter(user_id=principal.user_id, workspace=ws, kind=TokenKind.PERSONAL)
        if principal.user_id
        else AccessToken.objects.none()
    )
    response = render(
        request,
        "studio/accounts/tokens.html",
        {
            "workspace": ws,
            "area": "tokens",
            "tokens": mine,
            "new_secret": new_secret,
            "signed_in": principal.user_id is not None and principal.token is None,
            "default_days": settings.PERSONAL_TOKEN_DAYS,
            "tracking_token_minutes": settings.TRACKING_TOKEN_SECONDS // 60,
        },
    )
    # The page may show a new secret: no cache keeps it.
    response["Cache-Control"] = "no-store"
    return response


@requires(Permission.READ)
@require_POST
def token_create(request: HttpRequest, workspace: str) -> HttpResponse:
    principal = _principal(request)
    ws = resolve_workspace(workspace)
    if principal.user_id is None or principal.token is not None:
        messages.error(request, "Sign in to create personal access tokens.")
        return redirect("tokens", workspace=workspace)
    try:
        days = int(request.POST.get("days") or settings.PERSONAL_TOKEN_DAYS)
    except ValueError:
        days = settings.PERSONAL_TOKEN_DAYS
    issued = issue_personal_token(
        user=_current_user(principal),
        workspace=ws,
        name=request.POST.get("name", "").strip() or "token",
        days=max(0, min(days, 366)),
    )
    request.session[_NEW_SECRET] = issued.secret
    return redirect("tokens", workspace=workspace)


@requires(Permission.READ)
@require_POST
def token_revoke(request: HttpRequest, workspace: str, token_id: int) -> HttpResponse:
    principal = _principal(request)
    token = AccessToken.objects.filter(
        pk=token_id, workspace=resolve_workspace(workspace), user_id=principal.user_id
    ).first()
    if token is None or principal.user_id is None:
        return render(request, "studio/404.html", status=404)
    revoke_token(token)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("tokens", workspace=workspace)


# --- The studio API: tracking tokens and tenancy -----------------------------------------------


def studio_api(view: Callable[..., dict[str, Any] | HttpResponse]) -> Callable[..., HttpResponse]:
    """A JSON view of the studio API: errors as MLflow's {"error_code", "message"}."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            result = view(request, *args, **kwargs)
        except MlflowError as error:
            return error_response(error)
        return result if isinstance(result, HttpResponse) else json_response(result)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    for attribute in ("studio_permission",):
        if hasattr(view, attribute):
            setattr(wrapped, attribute, getattr(view, attribute))
    return csrf_exempt(wrapped)


def json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise InvalidParameterValue("The body is not JSON.") from None
    if not isinstance(body, dict):
        raise InvalidParameterValue("The body must be a JSON object.")
    return body


@studio_api
@requires(Permission.READ)
@require_POST
def api_tracking_token(request: HttpRequest, workspace_name: str) -> dict[str, Any]:
    """A tracking token for the workspace, valid TRACKING_TOKEN_SECONDS.

    Only a person can ask (a personal access token, a password or a session): a tracking token
    cannot buy another, so a leaked one dies with its hour.
    """
    principal = _principal(request)
    if principal.user_id is None:
        raise Unauthenticated("Tracking tokens are issued to people: send a personal access token.")
    if principal.token is not None and principal.token.kind != TokenKind.PERSONAL:
        raise PermissionDenied("Only a personal access token can fetch tracking tokens.")
    parent = AccessToken.objects.get(pk=principal.token.token_id) if principal.token else None
    issued = issue_tracking_token(
        user=_current_user(principal), workspace=resolve_workspace(workspace_name), parent=parent
    )
    return {
        "token": issued.secret,
        "expires_at": issued.expires_at.isoformat(),
        "expires_in": settings.TRACKING_TOKEN_SECONDS,
        "workspace": workspace_name,
    }


def _workspace_json(workspace: Workspace) -> dict[str, Any]:
    return {
        "name": workspace.name,
        "resource_group": workspace.resource_group.name,
        "description": workspace.description,
        "created_at": workspace.created_at.isoformat(),
    }


@studio_api
@require_http_methods(["GET", "POST"])
def api_workspaces(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    principal = _principal(request)
    if request.method == "GET":
        return {"workspaces": [_workspace_json(w) for w in list_workspaces(visible_workspace_ids(principal))]}
    if not _may_create_workspaces(principal):
        raise PermissionDenied("Access tokens are scoped to one workspace; create workspaces signed in.")
    body = json_body(request)
    group = ResourceGroup.objects.filter(name=body.get("resource_group", "default")).first()
    if group is None:
        raise ResourceDoesNotExist(f"Resource group '{body.get('resource_group')}' does not exist.")
    workspace = create_workspace_with_owner(
        resource_group=group,
        name=str(body.get("name", "")),
        description=str(body.get("description", "")),
        owner=_current_user(principal),
    )
    return json_response({"workspace": _workspace_json(workspace)}, status=201)


@studio_api
@require_http_methods(["GET", "PATCH"])
def api_workspace(request: HttpRequest, workspace_name: str) -> dict[str, Any]:
    workspace = Workspace.objects.select_related("resource_group").get(
        pk=resolve_workspace(workspace_name).pk
    )
    if request.method == "PATCH":
        body = json_body(request)
        if "name" in body and body["name"] != workspace.name:
            workspace = rename_workspace(workspace=workspace, name=str(body["name"]))
        if "description" in body:
            workspace = update_workspace(workspace=workspace, description=str(body["description"]))
    return {"workspace": _workspace_json(workspace)}


# Reading is for members; renaming is for Owners (the middleware reads this per method).
api_workspace.studio_permission = {"GET": Permission.READ, "PATCH": Permission.OWNER}


@studio_api
@require_http_methods(["GET", "POST"])
def api_resource_groups(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    principal = _principal(request)
    if request.method == "GET":
        visible = visible_workspace_ids(principal)
        groups = resource_groups_with_workspaces()
        return {
            "resource_groups": [
                {
                    "name": group.name,
                    "description": group.description,
                    "workspaces": [
                        w.name for w in group.workspace_list if visible is None or w.pk in visible
                    ],
                }
                for group in groups
                if _may_manage_groups(principal)
                or any(visible is None or w.pk in visible for w in group.workspace_list)
            ]
        }
    if not _may_manage_groups(principal):
        raise PermissionDenied("Only site administrators create resource groups.")
    body = json_body(request)
    group = create_resource_group(
        name=str(body.get("name", "")), description=str(body.get("description", ""))
    )
    return json_response(
        {"resource_group": {"name": group.name, "description": group.description}}, status=201
    )


@studio_api
@require_http_methods(["PATCH"])
def api_resource_group(request: HttpRequest, group_name: str) -> dict[str, Any]:
    if not _may_manage_groups(_principal(request)):
        raise PermissionDenied("Only site administrators rename resource groups.")
    group = ResourceGroup.objects.filter(name=group_name).first()
    if group is None:
        raise ResourceDoesNotExist(f"Resource group '{group_name}' does not exist.")
    body = json_body(request)
    if "name" in body:
        group = rename_resource_group(resource_group=group, name=str(body["name"]))
    return {"resource_group": {"name": group.name, "description": group.description}}


# Before the MLflow API's catch-all route (studio/urls.py puts them first).
api_urlpatterns = [
    path("api/studio/v1/workspaces", api_workspaces),
    path("api/studio/v1/workspaces/<slug:workspace_name>", api_workspace),
    path("api/studio/v1/workspaces/<slug:workspace_name>/tracking-token", api_tracking_token),
    path("api/studio/v1/resource-groups", api_resource_groups),
    path("api/studio/v1/resource-groups/<slug:group_name>", api_resource_group),
]

urlpatterns = [
    path("login/", login_page, name="login"),
    path("logout/", logout_page, name="logout"),
    path("resource-groups/", resource_groups, name="resource-groups"),
    path("ws/<slug:workspace>/settings/", workspace_settings, name="workspace-settings"),
    path("ws/<slug:workspace>/settings/rename", workspace_rename, name="workspace-rename"),
    path("ws/<slug:workspace>/config.json", config_json, name="workspace-config"),
    path("ws/<slug:workspace>/members/", members, name="members"),
    path("ws/<slug:workspace>/members/set", member_set, name="member-set"),
    path("ws/<slug:workspace>/members/<int:membership_id>/remove", member_remove, name="member-remove"),
    path("ws/<slug:workspace>/tokens/", tokens, name="tokens"),
    path("ws/<slug:workspace>/tokens/create", token_create, name="token-create"),
    path("ws/<slug:workspace>/tokens/<int:token_id>/revoke", token_revoke, name="token-revoke"),
]
