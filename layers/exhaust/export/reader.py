"""Scan the lake's observations table for an export (imports pyarrow: loaded only to build an answer).

The table is sorted by `observed_at`, so a date range skips every row group outside it before decoding; the
type and unit filters apply to the decoded record batches. Rows come out one record batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.export.query import ExportQuery
from exhaust.lake.store import Lake

TABLE = "observations"
TIME_COLUMN = "observed_at"
BATCH_ROWS = 8192


def format_times(column: pa.Array) -> pa.Array:
    """`2024-05-01T06:00:00Z` (Table Schema's default datetime form), `.123Z` when there are milliseconds.

    Vectorised: building a Python datetime per row would cost more than the rest of the export.
    """
    text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")  # the column's UTC, with .fff for milliseconds
    return pc.binary_join_element_wise(pc.replace_substring_regex(text, pattern=r"\.000$", replacement=""), "Z", "")


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
        values = [
            (format_times(batch.column(name)) if name == TIME_COLUMN else batch.column(name)).to_pylist()
            for name in columns
        ]
        yield list(zip(*values, strict=True))
