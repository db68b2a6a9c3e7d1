"""Scan the lake's observations table for an export (imports pyarrow: loaded only to build an answer).

The table is sorted by `observed_at`, so a date range skips every row group outside it before decoding; the
type and unit filters apply to the decoded record batches. Rows come out one record batch at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from exhaust.export.query import ExportQuery
from exhaust.lake.store import Lake
from exhaust.settings import RuntimeSettings

TABLE = "observations"
TIME_COLUMN = "observed_at"
BATCH_ROWS = 8192


def open_lake(settings: RuntimeSettings) -> Lake:
    return Lake.open(f"s3://{settings.lake_bucket}/{settings.lake_prefix}")


def format_time(when: dt.datetime) -> str:
    """`2024-05-01T06:00:00Z` (Table Schema's default datetime form), with milliseconds when there are some."""
    when = when.astimezone(dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    milliseconds = when.microsecond // 1000
    return f"{text}.{milliseconds:03d}Z" if milliseconds else f"{text}Z"


def observation_rows(lake: Lake, query: ExportQuery, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
    between = {}
    if query.date_from is not None or query.date_to is not None:
        between[TIME_COLUMN] = (query.date_from, query.date_to)
    isin: dict[str, list[str]] = {}
    if query.types:
        isin["producer_type"] = list(query.types)
    if query.units:
        isin["unit"] = list(query.units)
    for batch in lake.scan(TABLE, columns, between=between, isin=isin, batch_rows=BATCH_ROWS):
        values = [batch.column(name).to_pylist() for name in columns]
        if TIME_COLUMN in columns:
            position = list(columns).index(TIME_COLUMN)
            values[position] = [None if when is None else format_time(when) for when in values[position]]
        yield list(zip(*values, strict=True))
