"""Which days a dataset get call asks for: `from`/`since`/`to`, `date`, `date_range` presets, and their limits.

Pure functions of the query values and today's date, so every rule is unit-tested without AWS. Each refusal is
a BadRequest whose message starts with the parameter at fault.

A range is inclusive at both ends and its length counts days: from=2026-01-01&to=2026-01-10 is 10 days, so a
dataset with maxDateRangeDays=10 accepts it (and LAST_30_DAYS fits the public limit of 30).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from exhaust.errors import BadRequest

DATE_FORMAT = "YYYY-MM-DD"
DAY_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

# Presets end yesterday: today's file is only produced after the day is over.
DAYS_PRESETS = {
    "LAST_DAY": 1,
    "LAST_2_DAYS": 2,
    "LAST_7_DAYS": 7,
    "LAST_14_DAYS": 14,
    "LAST_30_DAYS": 30,
}
LAST_WEEK = "LAST_WEEK"
PRESETS = (*DAYS_PRESETS, LAST_WEEK)


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=offset) for offset in range(self.days)]


# Checked by `requested_range` (its messages name the parameter); the schema says its rule.
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN.pattern})]


class DayBounds(BaseModel):
    """The days of a call by their bounds, as given (None when absent): the query of a standard dataset get."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    from_: Day | None = Field(default=None, alias="from", description="YYYY-MM-DD, first day; default yesterday (UTC)")
    since: Day | None = Field(default=None, description="Alias of from")
    to: Day | None = Field(default=None, description="YYYY-MM-DD, last day (inclusive); default today (UTC)")


class DateQuery(DayBounds):
    """The days of a call by their bounds, one day or a preset: the query of a public dataset get."""

    date: Day | None = Field(default=None, description="YYYY-MM-DD: exactly one day")
    date_range: Annotated[str | None, WithJsonSchema({"type": "string", "enum": list(PRESETS)})] = Field(
        default=None, description="A preset range of days"
    )


def parse_day(name: str, value: str) -> dt.date:
    """A `YYYY-MM-DD` day, or a 400 naming the parameter (the reference answered a 500 after a timeout)."""
    text = value.strip()
    try:
        # fromisoformat alone would also take ISO week and ordinal dates (2026-W01-1, 2026-001).
        if not DAY_PATTERN.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: '{value}' is not a date in the {DATE_FORMAT} format") from None


def preset_range(value: str, today: dt.date) -> DateRange:
    preset = value.strip().upper()
    if preset in DAYS_PRESETS:
        return DateRange(today - dt.timedelta(days=DAYS_PRESETS[preset]), today - dt.timedelta(days=1))
    if preset == LAST_WEEK:
        # The previous calendar week, Monday to Sunday (ISO weeks), whatever weekday today is.
        this_monday = today - dt.timedelta(days=today.weekday())
        return DateRange(this_monday - dt.timedelta(days=7), this_monday - dt.timedelta(days=1))
    raise BadRequest(f"date_range: '{value}' is not one of {', '.join(PRESETS)}")


def requested_range(query: DateQuery, today: dt.date, *, presets_allowed: bool) -> DateRange:
    """The days a call names, before limits: defaults are from yesterday to today; `since` is `from`'s alias."""
    if query.from_ is not None and query.since is not None:
        raise BadRequest("since: is an alias of from; give one of them, not both")
    start_text = query.from_ if query.from_ is not None else query.since
    start_name = "from" if query.from_ is not None else "since"
    if presets_allowed:
        chosen = [name for name, value in (("date", query.date), ("date_range", query.date_range)) if value is not None]
        if start_text is not None or query.to is not None:
            chosen.append(start_name if start_text is not None else "to")
        if len(chosen) > 1:
            raise BadRequest(f"{chosen[0]}: cannot be combined with {chosen[1]}; give one way of naming the days")
        if query.date is not None:
            day = parse_day("date", query.date)
            return DateRange(day, day)
        if query.date_range is not None:
            return preset_range(query.date_range, today)
    start = parse_day(start_name, start_text) if start_text is not None else today - dt.timedelta(days=1)
    end = parse_day("to", query.to) if query.to is not None else today
    return DateRange(start, end)


def validate_range(
    days: DateRange,
    today: dt.date,
    *,
    max_range_days: int,
    retention_days: int,
    start_name: str = "from",
    end_name: str = "to",
) -> DateRange:
    """The limits every route applies: nothing after today, no negative range, the dataset's range and retention."""
    if days.end > today:
        raise BadRequest(f"{end_name}: {days.end.isoformat()} is after today ({today.isoformat()})")
    if days.start > days.end:
        raise BadRequest(
            f"{start_name}: {days.start.isoformat()} is after {end_name} ({days.end.isoformat()}); "
            "the range cannot be negative"
        )
    if days.days > max_range_days:
        raise BadRequest(
            f"{start_name}: the range {days.start.isoformat()} to {days.end.isoformat()} covers {days.days} days; "
            f"this dataset allows at most {max_range_days}"
        )
    earliest = today - dt.timedelta(days=retention_days)
    if days.start < earliest:
        raise BadRequest(
            f"{start_name}: {days.start.isoformat()} is older than this dataset's retention of {retention_days} days "
            f"(earliest {earliest.isoformat()})"
        )
    return days


def parameter_names(query: DateQuery) -> tuple[str, str]:
    """The parameters a refusal names for the start and the end of the range (defaults name their parameter)."""
    if query.date is not None:
        return "date", "date"
    if query.date_range is not None:
        return "date_range", "date_range"
    return ("since" if query.since is not None and query.from_ is None else "from"), "to"


def resolve_range(
    query: DateQuery, today: dt.date, *, max_range_days: int, retention_days: int, presets_allowed: bool
) -> DateRange:
    days = requested_range(query, today, presets_allowed=presets_allowed)
    start_name, end_name = parameter_names(query)
    start_defaulted = query.from_ is None and query.since is None and query.date is None and query.date_range is None
    if start_defaulted and days.start > days.end:
        # The caller gave only `to`: name it, and say where the start came from.
        raise BadRequest(
            f"to: {days.end.isoformat()} is before {days.start.isoformat()}, the default of from (yesterday); "
            "give from as well"
        )
    return validate_range(
        days,
        today,
        max_range_days=max_range_days,
        retention_days=retention_days,
        start_name=start_name,
        end_name=end_name,
    )
