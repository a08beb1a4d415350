"""The MLflow REST routes, derived from the RPC table that the proto descriptors give.

Every RPC of MLflow's services gets its paths under `/api/<major>.0` and `/ajax-api/<major>.0`
(and the same under `/ws/<workspace>/`). An RPC this server implements is registered with
`@rpc("mlflow.CreateExperiment")` (its request message, which names it uniquely: two services
both have a `listArtifacts`); the others answer 501 NOT_IMPLEMENTED, and paths no RPC declares
answer 404 ENDPOINT_NOT_FOUND. Matching is a dictionary look-up for plain paths and a short
list of patterns for paths with parameters, so routing costs the same for every request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from tracking.access import gate
from tracking.access.permissions import ADDRESSED_BY_PATH, Permission, permission_for
from tracking.errors import EndpointNotFound, MethodNotAllowed, MlflowError, NotImplementedRpc, database_error
from tracking.models import Workspace
from tracking.workspaces import resolve_workspace

from .protocol import read_message
from .responses import error_response, internal_error_response, json_response
from .spec import RPCS

logger = logging.getLogger(__name__)


@dataclass
class ApiCall:
    """What a handler gets: the request, its workspace, and the checked message fields."""

    request: HttpRequest
    workspace: Workspace | None  # None for the server-wide RPCs (server info, the workspace list)
    message: dict[str, Any] = field(default_factory=dict)
    path_args: dict[str, str] = field(default_factory=dict)
    principal: gate.Principal = gate.ANONYMOUS
    role: str | None = None  # the principal's role in `workspace` (None for server-wide RPCs)


Handler = Callable[[ApiCall], "dict[str, Any] | HttpResponse"]


@dataclass(frozen=True)
class Route:
    rpc: str
    message: str | None
    handler: Handler | None
    raw: bool = False  # the handler reads the request itself (artifact uploads, downloads)


_HANDLERS: dict[str, tuple[Handler, bool]] = {}
# Routes that no .proto declares but the client or MLflow's web UI calls (server-info, the
# UI's bulk histories and artifact downloads): (method, path, major version or None, name).
_EXTRA_ROUTES: list[tuple[str, str, int | None, str]] = []


def rpc(name: str, *, raw: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = (handler, raw)
        return handler

    return register


def handler_for(rpc_message: str) -> Handler:
    """The handler registered for an RPC (GraphQL's fields call the REST API's own)."""
    if not ROUTES._built:
        ROUTES.build()
    return _HANDLERS[rpc_message][0]


def extra_route(method: str, path: str, major: int | None, name: str) -> None:
    """A route no .proto declares, served by the handler registered as `@rpc(name)` and checked
    like an RPC (tracking.access.permissions classifies `name`). With a major version it lives
    under /api/<major>.0/ and /ajax-api/<major>.0/; without one at the server's root (MLflow's
    /get-artifact), where studio/urls.py routes its path to `dispatch`."""
    _EXTRA_ROUTES.append((method, path, major, name))


# Routes outside /api/ that speak another protocol but are authorized like any RPC (OTLP's
# /v1/traces): their keys have no "<major>.0/" prefix, so no /api/ path can reach them.
_OUTSIDE_ROUTES: list[tuple[str, str, str]] = []


def outside_api_route(method: str, key: str, name: str) -> None:
    _OUTSIDE_ROUTES.append((method, key, name))


class _RouteTable:
    def __init__(self) -> None:
        self.static: dict[str, dict[str, Route]] = {}
        self.patterns: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        self._built = False

    def build(self) -> None:
        # Handlers register on import of the handler modules; build once they all have (the
        # first request, or studio.wsgi's loading in gunicorn's master).
        if self._built:
            return
        import registry.api.handlers  # noqa: F401

        from . import handlers  # noqa: F401
        from .graphql import endpoint  # noqa: F401

        pattern_routes: dict[str, dict[str, Route]] = {}
        entries = [(name, message, endpoints) for name, message, endpoints in RPCS]
        entries += [(name, None, ((method, path, major),)) for method, path, major, name in _EXTRA_ROUTES]
        for name, message, endpoints in entries:
            handler, raw = _HANDLERS.get(message or name, (None, False))
            route = Route(name, message, handler, raw)
            for method, path, major in endpoints:
                full = f"{major}.0/{path.lstrip('/')}" if major is not None else path.lstrip("/")
                if "{" in full or "<" in full:
                    pattern_routes.setdefault(_to_regex(full), {})[method] = route
                else:
                    self.static.setdefault(full, {})[method] = route
        for method, key, name in _OUTSIDE_ROUTES:
            handler, raw = _HANDLERS.get(name, (None, False))
            self.static.setdefault(key, {})[method] = Route(name, None, handler, raw)
        self.patterns = [(re.compile(regex), routes) for regex, routes in pattern_routes.items()]
        self._built = True

    def match(self, api_path: str) -> tuple[dict[str, Route], dict[str, str]]:
        self.build()
        routes = self.static.get(api_path)
        if routes is not None:
            return routes, {}
        for regex, routes in self.patterns:
            found = regex.fullmatch(api_path)
            if found:
                return routes, found.groupdict()
        raise EndpointNotFound(f"No API endpoint at /{api_path}.")


def _to_regex(path: str) -> str:
    out, position = [], 0
    for found in re.finditer(r"\{([\w.]+)\}|<path:(\w+)>|<(\w+)>", path):
        out.append(re.escape(path[position : found.start()]))
        if found.group(2):
            out.append(f"(?P<{found.group(2)}>.+)")
        else:
            name = (found.group(1) or found.group(3)).split(".")[-1]
            out.append(f"(?P<{name}>[^/]+)")
        position = found.end()
    out.append(re.escape(path[position:]))
    return "".join(out)


ROUTES = _RouteTable()


@csrf_exempt
def dispatch(request: HttpRequest, api_path: str, workspace_name: str | None = None) -> HttpResponseBase:
    """The single Django view behind every MLflow API path."""
    try:
        routes, path_args = ROUTES.match(api_path)
        route = routes.get(request.method or "GET")
        if route is None:
            error = MethodNotAllowed(f"Method {request.method} is not allowed on /{api_path}.")
            error.allowed_methods = sorted(routes)
            raise error
        if route.handler is None:
            raise NotImplementedRpc(f"This server does not implement {route.rpc} (/{api_path}).")
        # Access is checked here, for every RPC, from the table in tracking.access.permissions;
        # authentication comes first so that an unknown caller learns nothing, not even a 404.
        principal = gate.authenticate(request)
        rpc_message = route.message or route.rpc
        if permission_for(rpc_message) in (Permission.SERVER, Permission.DIRECTORY):
            # Facts about the server and the list of one's workspaces: the same answer under any
            # /ws/<name>/, so that it tells nobody which names exist.
            workspace = addressed = None
        else:
            # META rather than `request.headers`, which builds a dict of every header first.
            workspace = resolve_workspace(workspace_name or request.META.get("HTTP_X_MLFLOW_WORKSPACE"))
            addressed = (
                resolve_workspace(path_args["workspace_name"])
                if rpc_message in ADDRESSED_BY_PATH
                else workspace
            )
        permission, role = gate.authorize_rpc(principal, addressed, rpc_message)
        call = ApiCall(
            request=request, workspace=workspace, path_args=path_args, principal=principal, role=role
        )
        if not route.raw and route.message is not None:
            call.message = read_message(request, route.message, path_args)
        if permission is Permission.DELETE_OWN:
            gate.check_own_run(principal, workspace, role, call.message.get("run_id", ""))
        result = route.handler(call)
    except MlflowError as error:
        return error_response(error)
    except DatabaseError as error:
        logger.warning("database error in %s: %s", api_path, error)
        return error_response(database_error(error))
    except Exception as exc:
        return internal_error_response(exc)
    if isinstance(result, HttpResponseBase):
        return result
    return json_response(result)


@csrf_exempt
def endpoint_not_found(
    request: HttpRequest, api_path: str, workspace_name: str | None = None
) -> HttpResponse:
    """Any other path under /api/: the answer MLflow's server gives, whatever the method."""
    return error_response(EndpointNotFound(f"No API endpoint at /{api_path}."))


@csrf_exempt
def otlp_traces(request: HttpRequest, workspace_name: str | None = None) -> HttpResponseBase:
    """OTLP's /v1/traces: routed, authenticated and authorized as an RPC of the table."""
    return dispatch(request, "v1/traces", workspace_name)
