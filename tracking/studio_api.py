"""The base of the studio API's DRF views (imports, jobs): errors answer like MLflow's own API,
`{"error_code", "message"}` with its HTTP status, written by the tracking API's one error function.

Access is not checked here: `studio.accounts.middleware` checks every view that names a workspace
before the view runs.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.api.responses import error_response
from tracking.errors import BadRequest, MlflowError


def handle_error(exc: Exception, context: dict) -> Response | None:
    """Every error as MLflow's {"error_code", "message"}; what DRF raises is translated first."""
    if isinstance(exc, exceptions.APIException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        error = BadRequest(message)
        error.http_status = exc.status_code
        if exc.status_code in (404, 405):
            error.error_code = "ENDPOINT_NOT_FOUND"
        exc = error
    if isinstance(exc, MlflowError):
        return error_response(exc)
    return None


class StudioApiView(APIView):
    # The middleware has authenticated the request already; DRF's own authentication would
    # demand its CSRF rules of session users a second time.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return handle_error
