"""Domain errors, named after MLflow's error codes.

The domain raises these; only the protocol layer (`tracking.api.responses`) turns them into
HTTP responses, using the status each class carries.
"""

from __future__ import annotations


class MlflowError(Exception):
    """An error a client should see, with MLflow's error code and HTTP status."""

    error_code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidParameterValue(MlflowError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidState(MlflowError):
    error_code = "INVALID_STATE"
    http_status = 400


class BadRequest(MlflowError):
    error_code = "BAD_REQUEST"
    http_status = 400


class ResourceAlreadyExists(MlflowError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class ResourceDoesNotExist(MlflowError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class EndpointNotFound(MlflowError):
    error_code = "ENDPOINT_NOT_FOUND"
    http_status = 404


class MethodNotAllowed(MlflowError):
    error_code = "ENDPOINT_NOT_FOUND"
    http_status = 405


class PermissionDenied(MlflowError):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class Unauthenticated(MlflowError):
    error_code = "UNAUTHENTICATED"
    http_status = 401


class RequestTooLarge(MlflowError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 413


class NotImplementedRpc(MlflowError):
    error_code = "NOT_IMPLEMENTED"
    http_status = 501


class InternalError(MlflowError):
    error_code = "INTERNAL_ERROR"
    http_status = 500


class TemporarilyUnavailable(MlflowError):
    """Busy or briefly down (the database is locked or unreachable): retry after `retry_after`
    seconds, which MLflow's client does by itself for a 503."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnreachable(MlflowError):
    """The AI gateway cannot reach the LLM provider an endpoint forwards to (502, no retry hint:
    trying again will not help until the set-up changes)."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 502


class TooManyRequests(TemporarilyUnavailable):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 429


# Words of the database errors that pass: a lock, a lost or refused connection, a timeout.
_TRANSIENT = ("locked", "connect", "connection", "server closed", "terminating", "timeout", "timed out",
              "could not serialize", "deadlock", "too many clients")  # fmt: skip


def database_error(error: Exception) -> MlflowError:
    """What a database error means to the client: busy (503, retry) or a request the database
    cannot carry out (400); its own words stay in the server's log."""
    from django.db import InterfaceError, OperationalError

    text = str(error).lower()
    if isinstance(error, InterfaceError | OperationalError) and any(word in text for word in _TRANSIENT):
        return TemporarilyUnavailable("The database is busy or unreachable; try again in a moment.")
    return InvalidParameterValue(
        f"The database could not carry out this request ({type(error).__name__}); make it smaller or simpler."
    )
