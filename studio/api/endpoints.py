"""The one way to declare an endpoint of the studio API: a `StudioEndpoint` (a DRF view).

What every endpoint gets from it, in this order:

1. Access: already decided by the route (studio.routing), which the access middleware checked;
   a workspace endpoint's methods receive the Workspace itself.
2. No cross-site writes: a write must come from a script or from the studio's own origin (see
   `refuse_cross_site`), whoever the caller is: in local mode an anonymous caller is an Owner,
   so a page on any other website must not be able to post to us.
3. Its body parsed by its parsers only: JSON (orjson, depth-limited) unless it declares uploads;
   any other Content-Type is 415.
4. Every error as MLflow's `{"error_code", "message"}` with its HTTP status, written by the
   tracking API's one error writer; what DRF raises is translated first, and a bug is a logged
   500 in the same shape, never an HTML page.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, serializers
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.api.responses import error_response, internal_error_response
from tracking.errors import (
    EndpointNotFound,
    InvalidParameterValue,
    MethodNotAllowed,
    MlflowError,
    PermissionDenied,
    RequestTooLarge,
    ResourceDoesNotExist,
    database_error,
)

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The Content-Types a cross-site page may send without asking first (CORS "simple" requests).
CROSS_SITE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
# A header no cross-site page can add without asking first: scripts that upload files (the SDK,
# `mlflow run`) send it with their multipart bodies.
CLIENT_HEADER = "X-Studio-Client"
MAX_JSON_BYTES = 1024 * 1024


class OrjsonParser(BaseParser):
    """JSON bodies, read by orjson: faster, and nesting deeper than 1,024 levels is a parse error
    rather than Python's recursion limit."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        body = stream.read(MAX_JSON_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_JSON_BYTES:
            raise RequestTooLarge(f"The JSON body is larger than {MAX_JSON_BYTES} bytes.")
        if not body:
            return {}
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise InvalidParameterValue(f"The body is not valid JSON: {error}.") from None


def _own_origins(request: HttpRequest) -> set[str]:
    return {f"{request.scheme}://{request.get_host()}", *settings.CSRF_TRUSTED_ORIGINS}


def refuse_cross_site(request: HttpRequest) -> None:
    """PERMISSION_DENIED for a write another website's page could have sent.

    Browsers name the sending site (`Sec-Fetch-Site`, `Origin`); scripts send neither. A write
    must also carry what a cross-site page cannot send without asking first (a CORS preflight,
    which this server never grants): a Content-Type other than a form's or plain text, the client
    header, or a bearer token. Cookies and Basic credentials a browser adds by itself.
    """
    if request.method in SAFE_METHODS:
        return
    site = request.headers.get("Sec-Fetch-Site", "")
    if site and site not in ("same-origin", "none"):
        raise PermissionDenied(f"The studio API refuses writes sent from another site ({site}).")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in _own_origins(request):
        raise PermissionDenied(f"The studio API refuses writes sent from another origin ({origin}).")
    content_type = (request.content_type or "").lower()
    if CLIENT_HEADER in request.headers or request.headers.get("Authorization", "").startswith("Bearer "):
        return  # no page on another site can send either without asking us first
    if not content_type or content_type in CROSS_SITE_CONTENT_TYPES:
        raise InvalidParameterValue(
            f"Send the body as application/json (multipart uploads also need the {CLIENT_HEADER} header)."
        )


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [line for key, value in detail.items() for line in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(detail, list):
        return [line for value in detail for line in _flatten(value, prefix)]
    return [f"{prefix}{detail}"]


def _as_mlflow_error(exc: exceptions.APIException) -> MlflowError:
    if isinstance(exc, exceptions.ValidationError):
        return InvalidParameterValue("Invalid request: " + "; ".join(_flatten(exc.detail)))
    message = "; ".join(_flatten(exc.detail))
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MethodNotAllowed(message)
    if isinstance(exc, exceptions.NotFound):
        return ResourceDoesNotExist(message)
    error = InvalidParameterValue(message)
    error.http_status = exc.status_code
    return error


def handle_error(exc: Exception, context: dict) -> HttpResponse:
    """Every error of the studio API, as MLflow writes errors."""
    if isinstance(exc, exceptions.APIException):
        allowed = context["view"].allowed_methods if isinstance(exc, exceptions.MethodNotAllowed) else ()
        exc = _as_mlflow_error(exc)
        exc.allowed_methods = allowed
    if isinstance(exc, DatabaseError):
        logger.warning("database error in %s: %s", context["request"].path, exc)
        exc = database_error(exc)
    if isinstance(exc, MlflowError):
        return error_response(exc)
    return internal_error_response(exc)


class StudioEndpoint(APIView):
    # The access middleware has authenticated the caller and checked their role from the route;
    # DRF's own authentication would demand its CSRF rules of session users a second time.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes = [OrjsonParser]

    def initial(self, request, *args, **kwargs) -> None:
        refuse_cross_site(request._request)
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self):
        return handle_error

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method)

    @staticmethod
    def valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        """The fields of `data` checked by the serializer (INVALID_PARAMETER_VALUE otherwise)."""
        if not isinstance(data, dict):
            raise InvalidParameterValue("The body must be a JSON object.")
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def created(payload: dict, location: str, status: int = 201) -> Response:
    return Response(payload, status=status, headers={"Location": location})


def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """A path under /api/studio/ no endpoint serves."""
    return error_response(EndpointNotFound(f"No studio API endpoint at {request.path}."))
