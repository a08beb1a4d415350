"""Who is asking, and may they: the one access check of the MLflow API, the studio API and pages.

1. `authenticate(request)` finds the principal: a token (Bearer, or the password of Basic auth),
   a user name and password (Basic), a signed-in session, or, in local mode only, an anonymous
   caller who may use every workspace (as `mlflow server` allows on a laptop).
2. `authorize(principal, workspace, permission)` finds the principal's role in the workspace:
   none means the workspace does not exist for them (404, as for a name nobody uses); a role
   below the permission's least role is 403 PERMISSION_DENIED.

Memberships are cached per process for ACCESS_CACHE_SECONDS, like tokens and workspaces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate as check_password
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from tracking.errors import PermissionDenied, ResourceDoesNotExist, Unauthenticated
from tracking.models import ResourceGroup, Run, Workspace
from tracking.models.workspaces import DEFAULT_RESOURCE_GROUP
from tracking.timed_cache import MISSING, TimedCache

from . import throttle
from .models import ROLE_RANK, Membership, Role, TokenKind
from .permissions import Permission, permission_for, role_allows
from .tokens import TokenGrant, grant_for, looks_like_token

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    is_superuser: bool = False
    token: TokenGrant | None = None
    anonymous: bool = False  # local mode only
    via_session: bool = False


ANONYMOUS = Principal(user_id=None, username="", anonymous=True)


def auth_required() -> bool:
    return settings.STUDIO_REQUIRE_AUTH


_WORKSPACE_PATH = re.compile(r"^/ws/([a-z0-9-]{1,64})/")


def how_to_authenticate(path: str = "") -> str:
    """What works, step by step; with the workspace's own pages when the path names one."""
    found = _WORKSPACE_PATH.match(path)
    pages = f"/ws/{found[1]}/" if found else "/ws/<workspace>/"
    return (
        f"Authentication required. Sign in to the studio and create a personal access token on "
        f"{pages}tokens/, then either set MLFLOW_TRACKING_TOKEN=<token> for MLflow's client, or "
        f"download {pages}config.json beside your script and call "
        "studio_sdk.Workspace.from_config().get_mlflow_tracking_uri() with STUDIO_TOKEN=<token> "
        "(the SDK then renews short-lived tracking tokens itself). MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD with your studio account work too."
    )


def authenticate(request: HttpRequest) -> Principal:
    """The principal of the request, or UNAUTHENTICATED."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return _token_principal(grant_for(credentials.strip()))
        if scheme == "basic":
            return _basic_principal(request, credentials.strip())
        raise Unauthenticated(
            f"Unsupported authorization scheme '{scheme}'. {how_to_authenticate(request.path)}"
        )
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # The API views are exempt from Django's CSRF check because scripts send tokens, not
        # cookies; a browser's cookie-authenticated write must still prove it came from us.
        if request.method not in _SAFE_METHODS and not _csrf_ok(request):
            raise PermissionDenied("CSRF verification failed for a cookie-authenticated request.")
        return Principal(user.pk, user.get_username(), user.is_superuser, via_session=True)
    if auth_required():
        raise Unauthenticated(how_to_authenticate(request.path))
    return ANONYMOUS


def _csrf_ok(request: HttpRequest) -> bool:
    if getattr(request, "_dont_enforce_csrf_checks", False):
        return True
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {}) is None


def _token_principal(grant: TokenGrant) -> Principal:
    return Principal(grant.user_id, grant.username, grant.is_superuser, token=grant)


# Password checks are slow on purpose (PBKDF2); the MLflow client sends them on every call,
# so a successful check is remembered briefly, keyed by a hash of the credentials.
_password_cache: TimedCache[Principal] = TimedCache(
    max_entries=1_000, seconds=lambda: settings.ACCESS_CACHE_SECONDS
)


def _basic_principal(request: HttpRequest, credentials: str) -> Principal:
    try:
        username, _, password = base64.b64decode(credentials).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("Malformed Basic credentials.") from None
    if looks_like_token(password):
        grant = grant_for(password)
        if grant.user_id is not None and grant.username != username:
            raise Unauthenticated("The access token belongs to another user name.")
        return _token_principal(grant)
    key = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
    cached = _password_cache.get(key)
    if cached is not MISSING:
        return cached
    address = throttle.client_address(request)
    if throttle.is_locked(username, address):
        raise Unauthenticated(throttle.LOCKED_MESSAGE)
    user = check_password(request, username=username, password=password)
    if user is None:
        throttle.record_failure(username, address)
        raise Unauthenticated("Invalid user name or password.")
    throttle.clear(username, address)
    principal = Principal(user.pk, user.get_username(), user.is_superuser)
    _password_cache.put(key, principal)
    return principal


# --- Roles -----------------------------------------------------------------------------------

_roles: TimedCache[str | None] = TimedCache(max_entries=10_000, seconds=lambda: settings.ACCESS_CACHE_SECONDS)


def membership_role(user_id: int, workspace_id: int) -> str | None:
    cached = _roles.get((user_id, workspace_id))
    if cached is not MISSING:
        return cached
    role = (
        Membership.objects.filter(user_id=user_id, workspace_id=workspace_id)
        .values_list("role", flat=True)
        .first()
    )
    _roles.put((user_id, workspace_id), role)
    return role


def role_in(principal: Principal, workspace: Workspace) -> str | None:
    """The principal's role in the workspace; None when it is not theirs to see."""
    if principal.anonymous:
        return Role.OWNER
    token = principal.token
    if token is not None and token.workspace_id != workspace.pk:
        return None
    if principal.user_id is None:
        role = None
    elif principal.is_superuser:
        role = Role.OWNER
    else:
        role = membership_role(principal.user_id, workspace.pk)
    if token is not None and token.kind == TokenKind.JOB:
        if principal.user_id is None:
            return token.role
        if role is not None and ROLE_RANK[Role(token.role)] < ROLE_RANK[Role(role)]:
            return token.role
    return role


def not_found(workspace_name: str) -> ResourceDoesNotExist:
    # The same words as for a name no workspace has, so a 404 tells an outsider nothing.
    return ResourceDoesNotExist(f"Workspace '{workspace_name}' does not exist.")


def authorize(principal: Principal, workspace: Workspace, permission: Permission) -> str:
    """The principal's role if it allows `permission` in `workspace`; 404 or 403 otherwise."""
    role = role_in(principal, workspace)
    if role is None:
        raise not_found(workspace.name)
    if not role_allows(role, permission):
        raise PermissionDenied(
            f"{Role(role).label} of workspace '{workspace.name}' may not do this "
            f"(it needs the {permission.value} permission)."
        )
    return role


def authorize_rpc(
    principal: Principal, workspace: Workspace | None, rpc_message: str
) -> tuple[Permission, str | None]:
    """The check of one MLflow API call (before its message is read)."""
    permission = permission_for(rpc_message)
    if permission is Permission.SERVER:
        return permission, None
    if permission is Permission.DIRECTORY:
        if rpc_message == "mlflow.CreateWorkspace" and (principal.token is not None):
            raise PermissionDenied(
                "Access tokens are scoped to one workspace; create workspaces signed in with a password."
            )
        return permission, None
    return permission, authorize(principal, workspace, permission)


def check_own_run(principal: Principal, workspace: Workspace, role: str | None, run_id: str) -> None:
    """DELETE_OWN: a Contributor may delete or restore only the runs they created."""
    if role == Role.OWNER:
        return
    owner = (
        Run.objects.filter(experiment__workspace=workspace, uuid=run_id)
        .values_list("user_id", flat=True)
        .first()
    )
    if owner is None:
        return  # the handler answers RESOURCE_DOES_NOT_EXIST
    if not principal.username or owner != principal.username:
        raise PermissionDenied("Contributors may delete and restore only their own runs; ask an Owner.")


def visible_workspace_ids(principal: Principal) -> set[int] | None:
    """The workspaces the principal may see; None: all of them."""
    if principal.anonymous or (principal.is_superuser and principal.token is None):
        return None
    if principal.token is not None:
        return {principal.token.workspace_id}
    return set(Membership.objects.filter(user_id=principal.user_id).values_list("workspace_id", flat=True))


def forget_roles() -> None:
    _roles.clear()
    _password_cache.clear()


@receiver([post_save, post_delete], sender=Membership)
def _forget_on_change(**kwargs) -> None:
    forget_roles()


# --- Tenancy: resource groups and creating workspaces ---------------------------------------------


def may_manage_resource_groups(principal: Principal) -> bool:
    """Creating and renaming resource groups: site administrators (and anyone, in local mode)."""
    return principal.anonymous or (principal.is_superuser and principal.token is None)


def may_create_workspaces(principal: Principal) -> bool:
    """People signed in with a password or a session (a token is scoped to one workspace)."""
    return principal.anonymous or (principal.user_id is not None and principal.token is None)


def authorize_workspace_creation(principal: Principal, group: ResourceGroup) -> None:
    """Creating a workspace in `group`: in the default group, anyone who may create workspaces;
    in another, its Owners only, the people who are Owner of every workspace in it (an empty
    one: site administrators), since a workspace added to a group blocks the group's deletion
    by those who may not delete it."""
    if not may_create_workspaces(principal):
        raise PermissionDenied(
            "Access tokens are scoped to one workspace; create workspaces signed in with a password."
        )
    if may_manage_resource_groups(principal) or group.name == DEFAULT_RESOURCE_GROUP:
        return
    roles = [role_in(principal, workspace) for workspace in group.workspaces.all()]
    if not roles or any(role != Role.OWNER for role in roles):
        raise PermissionDenied(
            f"Creating a workspace in resource group '{group.name}' takes being an Owner of every "
            "workspace in it; ask its Owners or a site administrator."
        )


def check_role_allows(role: str | None, permission: Permission, what: str) -> None:
    """A part of an RPC that needs more than the RPC itself (tracking.access.permissions)."""
    if not role_allows(role, permission):
        raise PermissionDenied(f"{what} needs the {permission.value} permission.")
