"""Shaping responses: JSON bodies as MLflow writes them, and the one place errors become HTTP."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.http import HttpResponse

from tracking.errors import MlflowError

logger = logging.getLogger(__name__)

JSON = "application/json"


def json_response(payload: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), content_type=JSON, status=status)


def error_response(error: MlflowError) -> HttpResponse:
    response = json_response({"error_code": error.error_code, "message": error.message}, error.http_status)
    if error.http_status == 405:
        response["Allow"] = ", ".join(getattr(error, "allowed_methods", ()))
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def internal_error_response(exc: BaseException) -> HttpResponse:
    logger.exception("unhandled error in the tracking API", exc_info=exc)
    return json_response(
        {
            "error_code": "INTERNAL_ERROR",
            "message": f"Internal error: {exc.__class__.__name__}. See the server log.",
        },
        500,
    )


def page_message(field: str, items: list, next_page_token: str | None) -> dict[str, Any]:
    """A search's answer; proto3 JSON leaves out an empty list and a missing token."""
    message: dict[str, Any] = {}
    if items:
        message[field] = items
    if next_page_token:
        message["next_page_token"] = next_page_token
    return message
