"""The export API's errors (seed 003): all are 400s whose messages say what to send instead."""

from __future__ import annotations

from exhaust.errors import BadRequest


class BadDateFormat(BadRequest):
    code = "BAD_DATE_FORMAT"


class BadDateRange(BadRequest):
    code = "BAD_DATE_RANGE"


class UnsupportedFormat(BadRequest):
    code = "UNSUPPORTED_FORMAT"
