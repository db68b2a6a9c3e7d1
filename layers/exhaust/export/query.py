"""The export's parameters: format (case-insensitive), date_from / date_to (ISO 8601, UTC, inclusive), types
and units (repeatable or comma-separated)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from exhaust.export.errors import BadDateFormat, BadDateRange, UnsupportedFormat

FORMATS = ("CSV", "JSON", "XML")
# Observation times are stored with millisecond precision: the last instant of a day is 23:59:59.999.
LAST_INSTANT = dt.timedelta(days=1) - dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class ExportQuery:
    format: str  # one of FORMATS
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None
    types: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """The filters as given, for the data package's metadata."""
        return {
            "date_from": _iso(self.date_from),
            "date_to": _iso(self.date_to),
            "types": list(self.types),
            "units": list(self.units),
        }


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_format(text: str) -> str:
    name = text.strip().upper()
    if name not in FORMATS:
        raise UnsupportedFormat(
            f"Unsupported exportation format '{text[:40]}': accepted formats are {', '.join(FORMATS)} "
            "(case-insensitive)"
        )
    return name


def parse_instant(name: str, text: str, *, end_of_day: bool) -> dt.datetime:
    """A date (`2024-05-01`: its first or last instant) or a date-time; UTC unless it carries an offset."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start + LAST_INSTANT if end_of_day else start
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadDateFormat(
            f"Bad date format: {name} must be an ISO 8601 date (yyyy-mm-dd, UTC), got '{text[:40]}'"
        ) from None
    try:
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 is in year 0 in UTC, 9999-12-31T23:59:59-01:00 in year 10000.
        raise BadDateFormat(
            f"Bad date format: {name} '{text[:40]}' falls outside 0001-01-01 to 9999-12-31 once in UTC"
        ) from None


def parse_query(
    format_text: str,
    date_from: str | None = None,
    date_to: str | None = None,
    types: list[str] | None = None,
    units: list[str] | None = None,
) -> ExportQuery:
    export_format = parse_format(format_text)
    # An empty value is a mistake (a client's unset variable), not "no bound": refused like any other bad date.
    first = parse_instant("date_from", date_from, end_of_day=False) if date_from is not None else None
    last = parse_instant("date_to", date_to, end_of_day=True) if date_to is not None else None
    if first is not None and last is not None and first > last:
        raise BadDateRange(f"date_from ({date_from}) must not be after date_to ({date_to})")
    return ExportQuery(
        export_format,
        first,
        last,
        tuple(dict.fromkeys(types or ())),
        tuple(dict.fromkeys(units or ())),
    )
