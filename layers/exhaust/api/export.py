"""The export operation: the lake's observations as a CKAN-compliant CSV, JSON or XML zip (exhaust.export)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from pydantic import WithJsonSchema

from exhaust.api.http import MAX_QUERY_VALUES, RawResponse
from exhaust.api.operation import Outcome, Path, Query, operation
from exhaust.api.outcomes import REDIRECT, TOO_LARGE, ZIP
from exhaust.export.query import FORMATS
from exhaust.export.service import ExportService
from exhaust.identifiers import any_case_of

TAG = "export"
# The format and the days are checked by exhaust.export.query (its messages name the parameter); these schemas
# say its rules.
# Python's ISO 8601 reading takes more forms than JSON Schema's date and date-time formats: no format is claimed.
EXPORT_DAY: dict[str, Any] = {
    "type": "string",
    "minLength": 1,  # an empty value is refused, not taken for no bound (a client's unset variable)
    "description": "An ISO 8601 date or date-time; UTC unless it says",
    "examples": ["2026-11-01", "2026-11-01T06:30:00+05:30"],
}
ExportDay = Annotated[str | None, WithJsonSchema(EXPORT_DAY)]
Values = Annotated[
    list[str] | None, WithJsonSchema({"type": "array", "items": {"type": "string"}, "maxItems": MAX_QUERY_VALUES})
]
REPEATED = "; repeat the parameter or separate values with commas"


@lru_cache(maxsize=1)
def service() -> ExportService:
    return ExportService()


@operation(
    "GET /api/export/{format}",
    "api.export",
    "Export observations as a CKAN-compliant CSV, JSON or XML zip (public, throttled): observations.<format> "
    "and its datapackage.json",
    tag=TAG,
    statuses=(
        Outcome(204, "Empty dataset: the filters leave no rows"),
        REDIRECT,
        TOO_LARGE,
        Outcome(429, "Throttled: retry later"),
    ),
    media_type=ZIP,
)
def export(
    output_format: Annotated[
        str,
        WithJsonSchema({"type": "string", "pattern": any_case_of(FORMATS)}),
        Path("Output format, any letter case", "format"),
    ],
    date_from: Annotated[ExportDay, Query("Only data from this day on (UTC, inclusive)", empty_is_a_value=True)] = None,
    date_to: Annotated[ExportDay, Query("Only data up to this day (UTC, inclusive)", empty_is_a_value=True)] = None,
    types: Annotated[Values, Query("Only these producer types (e.g. sensor)" + REPEATED)] = None,
    units: Annotated[Values, Query("Only these units of measurement (e.g. celsius)" + REPEATED)] = None,
) -> RawResponse:
    return service().export(output_format, date_from, date_to, types or [], units or [])
