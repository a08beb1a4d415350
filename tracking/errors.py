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
