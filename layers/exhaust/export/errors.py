"""The export API's errors (seed 003): 400s whose messages say what to send instead, and the 422 of an export
too large to answer in time, which says how to narrow it."""

from __future__ import annotations

from exhaust.errors import BadRequest, ServiceError


class BadDateFormat(BadRequest):
    code = "BAD_DATE_FORMAT"


class BadDateRange(BadRequest):
    code = "BAD_DATE_RANGE"


class UnsupportedFormat(BadRequest):
    code = "UNSUPPORTED_FORMAT"


class UnknownFilterValue(BadRequest):
    """A types or units value no observation has (a typo): the message names the values that exist."""

    code = "UNKNOWN_FILTER_VALUE"


class ExportTooLarge(ServiceError):
    """Valid filters whose answer cannot be built within API Gateway's wait: the message says how to narrow them."""

    status = 422
    response_code = "CLIENT_ERROR"
    code = "EXPORT_TOO_LARGE"
