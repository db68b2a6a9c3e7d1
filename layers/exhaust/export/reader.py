"""Scan the lake's observations table for an export (imports pyarrow: loaded only to build an answer).

The table is sorted by `observed_at`, so a date range skips every row group outside it before decoding; the
type and unit filters apply to the decoded record batches. Rows come out one record batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.export.query import ExportQuery
from exhaust.lake.store import Lake

TABLE = "observations"
TIME_COLUMN = "observed_at"
# Big enough that per-batch overheads (kernel calls, thread hand-offs) are small, small enough for a few MB.
BATCH_ROWS = 65_536


def format_times(column: pa.Array) -> pa.Array:
    """`2024-05-01T06:00:00Z` (Table Schema's default datetime form), `.123Z` when there are milliseconds.

    Vectorised: building a Python datetime per row would cost more than the rest of the export.
    """
    text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")  # the column's UTC, with .fff for milliseconds
    return pc.binary_join_element_wise(pc.replace_substring_regex(text, pattern=r"\.000$", replacement=""), "Z", "")


def _filters(query: ExportQuery) -> tuple[dict[str, tuple[object, object]], dict[str, list[str]]]:
    between = {}
    if query.date_from is not None or query.date_to is not None:
        between[TIME_COLUMN] = (query.date_from, query.date_to)
    isin: dict[str, list[str]] = {}
    if query.types:
        isin["producer_type"] = list(query.types)
    if query.units:
        isin["unit"] = list(query.units)
    return between, isin


def estimated_rows(lake: Lake, query: ExportQuery) -> int:
    """An upper bound of the export's rows from the Parquet footers alone: the rows of the row groups the date
    range touches (the types and units filters are not in the statistics of a table sorted by time)."""
    between, _ = _filters(query)
    return lake.rows_within(TABLE, between)


def observation_batches(lake: Lake, query: ExportQuery, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The matching rows, a record batch at a time, with the time column as text."""
    between, isin = _filters(query)
    for batch in lake.scan(TABLE, columns, between=between, isin=isin, batch_rows=BATCH_ROWS):
        yield pa.RecordBatch.from_arrays(
            [format_times(batch.column(name)) if name == TIME_COLUMN else batch.column(name) for name in columns],
            names=list(columns),
        )
