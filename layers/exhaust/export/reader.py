"""Scan the lake's observations table for an export (imports pyarrow: loaded only to build an answer).

The table is sorted by `observed_at`, so a date range skips every row group outside it before decoding; the
type and unit filters apply to the decoded record batches. Rows come out one record batch at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.export.query import ExportQuery
from exhaust.lake.store import Lake

TABLE = "observations"
TIME_COLUMN = "observed_at"
# Big enough that per-batch overheads (kernel calls, thread hand-offs) are small, small enough for a few MB.
BATCH_ROWS = 65_536
# Repetitive text columns, read dictionary-encoded as Parquet stores them: formatting then runs once per distinct
# value, not once per row.
DICTIONARY_COLUMNS = ("producer_type", "producer_id", "metric", "unit")


def format_times(column: pa.Array) -> pa.Array:
    """`2024-05-01T06:00:00Z` (Table Schema's default datetime form), `.123Z` when there are milliseconds.

    Vectorised: building a Python datetime per row would cost more than the rest of the export. The lake's times
    are UTC, so they are cast as naive ones (the same instants; casting a zoned time consults the time zone
    database for every value, 30 times slower): `2024-05-01 06:00:00.000`, then reshaped.
    """
    text = pc.cast(column.cast(pa.timestamp("ms")), pa.string())
    text = pc.binary_replace_slice(text, 10, 11, "T")
    whole_seconds = pc.utf8_slice_codeunits(text, 0, len("2024-05-01T06:00:00"))
    return pc.binary_join_element_wise(pc.if_else(pc.ends_with(text, ".000"), whole_seconds, text), "Z", "")


def _filters(
    query: ExportQuery,
) -> tuple[dict[str, tuple[dt.datetime | None, dt.datetime | None]], dict[str, list[str]]]:
    between = {}
    if query.date_from is not None or query.date_to is not None:
        between[TIME_COLUMN] = (query.date_from, query.date_to)
    isin: dict[str, list[str]] = {}
    if query.types:
        isin["producer_type"] = list(query.types)
    if query.units:
        isin["unit"] = list(query.units)
    return between, isin


def existing_values(lake: Lake, column: str) -> list[str]:
    """Every value of a text column of the observations, sorted (read dictionary-encoded: one column, cheaply)."""
    found: set[str] = set()
    for batch in lake.scan(TABLE, [column], dictionary=[column]):
        values = batch.column(column)
        if isinstance(values, pa.DictionaryArray):
            values = values.dictionary
        found.update(value for value in values.to_pylist() if value is not None)
    return sorted(found)


def estimated_rows(lake: Lake, query: ExportQuery) -> int:
    """An upper bound of the export's rows from the Parquet footers alone: the rows of the row groups the date
    range touches (the types and units filters are not in the statistics of a table sorted by time)."""
    between, _ = _filters(query)
    return sum(piece.rows for piece in lake.pieces(TABLE, between=between))


def observation_batches(lake: Lake, query: ExportQuery, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The matching rows, a record batch at a time, with the time column as text."""
    between, isin = _filters(query)
    dictionary = [name for name in DICTIONARY_COLUMNS if name in columns]
    read_columns = [*columns, *(name for name in isin if name not in columns)]
    # The type and unit filters apply here, to the dictionary-encoded columns (the lake's own membership filter
    # compares plain strings); a table sorted by time has every type in every row group, so no pruning is lost.
    for batch in lake.scan(TABLE, read_columns, between=between, batch_rows=BATCH_ROWS, dictionary=dictionary):
        for name, values in isin.items():
            batch = batch.filter(pc.is_in(batch.column(name), value_set=pa.array(values, pa.string())))
        if not batch.num_rows:
            continue
        yield pa.RecordBatch.from_arrays(
            [format_times(batch.column(name)) if name == TIME_COLUMN else batch.column(name) for name in columns],
            names=list(columns),
        )
