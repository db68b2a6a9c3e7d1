"""Error codes of the legacy API. Their names are its contract (seed 000); the license key errors
(LOGIN_FAILED, AUTHORIZATION_FAILED) live with the other authentication rules in exhaust.auth.checks."""

from __future__ import annotations

from exhaust.errors import BadRequest


class InvalidData(BadRequest):
    """The request body is not a parsable JSON object of the expected shape."""

    code = "INVALID_DATA_ERROR"


class InvalidDate(BadRequest):
    """A malformed date, fromDate after toDate, or toDate not before today."""

    code = "INVALID_DATE"


class DateRangeTooLarge(BadRequest):
    code = "DATE_RANGE_TOO_LARGE"
