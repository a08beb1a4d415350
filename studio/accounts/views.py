"""Studio pages and API of people and tenancy: log-in, members, tokens, resource groups,
workspace settings and config.json; and the studio API the SDK calls for tracking tokens.

Access is checked by `WorkspaceAccessMiddleware` from each view's `@requires(...)`; a view
here only checks what the middleware cannot know (a token is the caller's own, say).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.routing import public_route, requires, signed_in_route, workspace_route
from tracking.access import throttle
from tracking.access.gate import (
    Principal,
    authorize_workspace_creation,
    may_create_workspaces,
    may_manage_resource_groups,
    visible_workspace_ids,
)
from tracking.access.models import AccessToken, Membership, Role, TokenKind
from tracking.access.permissions import Permission
from tracking.access.services import create_workspace_with_owner, remove_member, set_member
from tracking.access.tokens import issue_personal_token, revoke_token
from tracking.errors import (
    InvalidParameterValue,
    MlflowError,
    PermissionDenied,
    ResourceDoesNotExist,
)
from tracking.models import ResourceGroup, Workspace
from tracking.queries.workspaces import resource_groups_with_workspaces
from tracking.services.workspaces import (
    create_resource_group,
    rename_resource_group,
    rename_workspace,
    update_workspace,
)

# --- Log-in -----------------------------------------------------------------------------------


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


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


# --- Resource groups and workspaces ------------------------------------------------------------


def _principal(request: HttpRequest) -> Principal:
    return request.principal  # set by the middleware for every non-public view


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
    if not may_manage_resource_groups(principal):
        groups = [group for group in groups if group.workspace_list]
    return render(
        request,
        "studio/accounts/resource_groups.html",
        {
            "groups": groups,
            "all_groups": ResourceGroup.objects.order_by("name"),
            "may_manage_groups": may_manage_resource_groups(principal),
            "may_create_workspaces": may_create_workspaces(principal),
        },
    )


def _change_tenancy(request: HttpRequest, principal: Principal) -> None:
    action = request.POST.get("action")
    name = request.POST.get("name", "").strip()
    if action in ("create-group", "rename-group"):
        if not may_manage_resource_groups(principal):
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
        if not may_create_workspaces(principal):
            raise PermissionDenied("Sign in to create workspaces.")
        group = ResourceGroup.objects.filter(pk=request.POST.get("group")).first()
        if group is None:
            raise ResourceDoesNotExist("No such resource group.")
        authorize_workspace_creation(principal, group)
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
def workspace_settings(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return render(
        request,
        "studio/accounts/settings.html",
        {"workspace": workspace, "area": "settings", "is_owner": request.workspace_role == Role.OWNER},
    )


@requires(Permission.OWNER)
@require_POST
def workspace_rename(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    ws = Workspace.objects.get(pk=workspace.pk)
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
def config_json(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """What `studio_sdk.Workspace.from_config()` reads; no secret goes into it."""
    body = {
        "server": request.build_absolute_uri("/").rstrip("/"),
        "resource_group": workspace.resource_group.name,
        "workspace": workspace.name,
    }
    response = HttpResponse(json.dumps(body, indent=2) + "\n", content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="config.json"'
    return response


# --- Members ---------------------------------------------------------------------------------


@require_GET
def members(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    memberships = (
        Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__username")
    )
    return render(
        request,
        "studio/accounts/members.html",
        {
            "workspace": workspace,
            "area": "members",
            "memberships": memberships,
            "roles": Role.choices,
            "is_owner": request.workspace_role == Role.OWNER,
        },
    )


@requires(Permission.OWNER)
@require_POST
def member_set(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    username = request.POST.get("username", "").strip()
    try:
        set_member(workspace=workspace, username=username, role=request.POST.get("role", ""))
        messages.success(request, f"{username} is now {Role(request.POST['role']).label}.")
    except MlflowError as error:
        messages.error(request, error.message)
    return redirect("members", workspace=workspace)


@requires(Permission.OWNER)
@require_POST
def member_remove(request: HttpRequest, workspace: Workspace, membership_id: int) -> HttpResponse:
    try:
        remove_member(workspace=workspace, membership_id=membership_id)
        messages.success(request, "Member removed.")
    except MlflowError as error:
        messages.error(request, error.message)
    return redirect("members", workspace=workspace)


# --- Tokens ----------------------------------------------------------------------------------


@require_GET
def tokens(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    # A new token's secret waits in the session for this one page view (post/redirect/get, so a
    # reload does not make another token), and is gone from it once shown.
    return _tokens_page(request, workspace, request.session.pop(_NEW_SECRET, None))


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
            "max_days": settings.PERSONAL_TOKEN_MAX_DAYS,
            "tracking_token_minutes": settings.TRACKING_TOKEN_SECONDS // 60,
        },
    )
    # The page may show a new secret: no cache keeps it.
    response["Cache-Control"] = "no-store"
    return response


@requires(Permission.READ)
@require_POST
def token_create(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    principal = _principal(request)
    if principal.user_id is None or principal.token is not None:
        messages.error(request, "Sign in to create personal access tokens.")
        return redirect("tokens", workspace=workspace)
    try:
        days = int(request.POST.get("days") or settings.PERSONAL_TOKEN_DAYS)
        issued = issue_personal_token(
            user=_current_user(principal),
            workspace=workspace,
            name=request.POST.get("name", "").strip()[:100] or "token",
            days=days,
        )
    except ValueError:
        messages.error(request, "Give the number of days the token is valid, e.g. 90.")
        return redirect("tokens", workspace=workspace)
    except MlflowError as error:
        messages.error(request, error.message)
        return redirect("tokens", workspace=workspace)
    request.session[_NEW_SECRET] = issued.secret
    return redirect("tokens", workspace=workspace)


@requires(Permission.READ)
@require_POST
def token_revoke(request: HttpRequest, workspace: Workspace, token_id: int) -> HttpResponse:
    principal = _principal(request)
    token = AccessToken.objects.filter(pk=token_id, workspace=workspace, user_id=principal.user_id).first()
    if token is None or principal.user_id is None:
        return render(request, "studio/404.html", status=404)
    revoke_token(token)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("tokens", workspace=workspace)


urlpatterns = [
    public_route("login/", login_page, name="login"),
    public_route("logout/", logout_page, name="logout"),
    signed_in_route("resource-groups/", resource_groups, name="resource-groups"),
    workspace_route("ws/<slug:workspace>/settings/", workspace_settings, name="workspace-settings"),
    workspace_route("ws/<slug:workspace>/settings/rename", workspace_rename, name="workspace-rename"),
    workspace_route("ws/<slug:workspace>/config.json", config_json, name="workspace-config"),
    workspace_route("ws/<slug:workspace>/members/", members, name="members"),
    workspace_route("ws/<slug:workspace>/members/set", member_set, name="member-set"),
    workspace_route(
        "ws/<slug:workspace>/members/<id:membership_id>/remove", member_remove, name="member-remove"
    ),
    workspace_route("ws/<slug:workspace>/tokens/", tokens, name="tokens"),
    workspace_route("ws/<slug:workspace>/tokens/create", token_create, name="token-create"),
    workspace_route("ws/<slug:workspace>/tokens/<id:token_id>/revoke", token_revoke, name="token-revoke"),
]
