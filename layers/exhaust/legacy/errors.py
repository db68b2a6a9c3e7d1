"""Error codes of the legacy API. Their names are its contract (seed 000); the license key errors
(LOGIN_FAILED, AUTHORIZATION_FAILED) live with the other authentication rules in exhaust.auth.checks."""

from __future__ import annotations

from exhaust.errors import BadRequest, ServiceError


class InvalidData(BadRequest):
    """The request body is not a parsable JSON object of the expected shape."""

    code = "INVALID_DATA_ERROR"


class InvalidDate(BadRequest):
    """A malformed date, fromDate after toDate, or toDate not before today."""

    code = "INVALID_DATE"


class DateRangeTooLarge(BadRequest):
    code = "DATE_RANGE_TOO_LARGE"


class AnswerTooLarge(ServiceError):
    """A valid range whose events cannot be answered within API Gateway's wait: seed 000's code for a range too
    large, with 422 (not 400: nothing is malformed) and a message saying how many days to ask for instead."""

    status = 422
    response_code = "CLIENT_ERROR"
    code = "DATE_RANGE_TOO_LARGE"
