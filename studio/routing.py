"""How the studio declares its routes, and with each route who may reach it.

Access is a property of the route, not of a view's argument names: every route of
studio/urls.py is made by one of the functions below, and the access middleware
(`studio.accounts.middleware`) reads the declaration off what the URL resolved to.

- `workspace_route`: a page or endpoint of one workspace, named by the route's
  `<slug:workspace>`. The caller needs a role there that allows the view's permission (declared
  with `@requires`, else READ to read and WRITE to change); the view is then called with the
  Workspace itself as `workspace`, looked up and checked once.
- `signed_in_route`: outside any one workspace (the home page, resource groups, deletions): any
  caller who authenticated (anyone, in local mode); the view narrows what they see.
- `public_route`: log-in, health, version: anyone.
- `self_checked_route`: MLflow's API, whose dispatcher checks every RPC itself.

A route made with Django's own `path()` declares nothing, and the middleware refuses it; a test
walks every route to keep it so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, path, re_path, register_converter

from tracking.access.permissions import Permission

WORKSPACE_KWARG = "workspace"


class IdConverter:
    """`<id:name>`: a row's id, at most 18 digits, so that it fits the database's integers (a
    longer one is a 404, as for an id nobody has, rather than an overflow)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")


class Reach(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed in"
    WORKSPACE = "workspace"
    SELF_CHECKED = "self-checked"


@dataclass(frozen=True)
class Access:
    reach: Reach
    # For WORKSPACE routes: the view's permission, or one per method; None: READ to read, WRITE to change.
    permission: Permission | dict[str, Permission] | None = None

    def permission_for(self, method: str) -> Permission:
        declared = self.permission.get(method) if isinstance(self.permission, dict) else self.permission
        if declared is not None:
            return declared
        return Permission.READ if method in ("GET", "HEAD", "OPTIONS") else Permission.WRITE


def access_of(view: Callable) -> Access | None:
    return getattr(view, "route_access", None)


def _declared(view: Callable, access: Access) -> Callable:
    """The view, wrapped so that this route's declaration travels with what the URL resolves to
    (the same view may be reached by routes that declare differently)."""

    @functools.wraps(view)
    def routed(request: HttpRequest, *args: Any, **kwargs: Any):
        if access.reach is Reach.WORKSPACE:
            # The middleware looked the workspace up and checked the caller's role in it.
            kwargs[WORKSPACE_KWARG] = request.workspace
        return view(request, *args, **kwargs)

    routed.route_access = access  # type: ignore[attr-defined]
    return routed


def workspace_route(
    route: str, view: Callable, *, name: str | None = None, permission: Permission | dict | None = None
) -> URLPattern:
    if f"<slug:{WORKSPACE_KWARG}>" not in route:
        raise ValueError(f"A workspace route names its workspace as <slug:{WORKSPACE_KWARG}>: {route!r}")
    declared = permission if permission is not None else _declared_permission(view)
    return path(route, _declared(view, Access(Reach.WORKSPACE, declared)), name=name)


def _declared_permission(view: Callable) -> Permission | dict | None:
    """What `@requires` put on the view, or on its class (a DRF endpoint)."""
    found = getattr(view, "studio_permission", None)
    return (
        found if found is not None else getattr(getattr(view, "view_class", None), "studio_permission", None)
    )


def signed_in_route(route: str, view: Callable, *, name: str | None = None) -> URLPattern:
    return path(route, _declared(view, Access(Reach.SIGNED_IN)), name=name)


def public_route(route: str, view: Callable, *, name: str | None = None) -> URLPattern:
    return path(route, _declared(view, Access(Reach.PUBLIC)), name=name)


def self_checked_route(regex: str, view: Callable, *, name: str | None = None) -> URLPattern:
    re.compile(regex)
    return re_path(regex, _declared(view, Access(Reach.SELF_CHECKED)), name=name)


def requires(permission: Permission | dict[str, Permission]) -> Callable:
    """Declare what a workspace view needs (for every method, or per method)."""

    def mark(view: Callable) -> Callable:
        view.studio_permission = permission
        return view

    return mark
