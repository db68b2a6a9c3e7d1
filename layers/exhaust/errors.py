"""Typed errors of the domain. The API maps them to its envelope in one place (exhaust.api.http)."""

from __future__ import annotations


class ServiceError(Exception):
    """An error a caller can act on: it carries the HTTP status, the envelope's responseCode and err code."""

    status = 500
    response_code = "SERVER_ERROR"
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}


class BadRequest(ServiceError):
    status = 400
    response_code = "CLIENT_ERROR"
    code = "INVALID_REQUEST"


class Unauthorized(ServiceError):
    status = 401
    response_code = "UNAUTHORIZED"
    code = "UNAUTHORIZED"


class Forbidden(ServiceError):
    status = 403
    response_code = "FORBIDDEN"
    code = "FORBIDDEN"


class NotFound(ServiceError):
    status = 404
    response_code = "RESOURCE_NOT_FOUND"
    code = "NOT_FOUND"


class Conflict(ServiceError):
    status = 409
    response_code = "CONFLICT"
    code = "CONFLICT"


class PayloadTooLarge(ServiceError):
    status = 413
    response_code = "CLIENT_ERROR"
    code = "PAYLOAD_TOO_LARGE"


class TooManyRequests(ServiceError):
    status = 429
    response_code = "TOO_MANY_REQUESTS"
    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds
