"""The datasets' value formats and CSV lines (docs/lake.md): the builders write them, and the index stores finished
progress-exhaust lines written by the same rules (exhaust.lake.progress_lines).

Formats: dates `dd/MM/yyyy`, date-times `dd/MM/yyyy HH:mm:ss`, both in UTC; scores `ceil(score x 100 / max)`
followed by `%`; empty fields for unknown values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from exhaust.lake.catalog import BatchInfo


def _padded(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(values, pa.string()), width, "0")


def format_dates(values: pa.ChunkedArray | pa.Array, with_time: bool = False, repeated: bool = False) -> pa.Array:
    """`dd/MM/yyyy` (or `dd/MM/yyyy HH:mm:ss`) in UTC; null stays null.

    Assembled from the date's parts: three times faster than strftime on time-zone-aware timestamps. Each
    distinct value is formatted once where values repeat: always for dates (a batch's enrolments fall on few
    days; ten times faster), and with `repeated` for date-times (a response's questions share their attempt's
    time; three times faster there, twice slower on mostly distinct values).
    """
    if not with_time and pa.types.is_timestamp(values.type):
        values = pc.cast(values, pa.date32())  # the day in the timestamp's zone (UTC), as pc.day etc. read it
        repeated = True
    if repeated:
        distinct = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
        return pc.take(format_dates(distinct.dictionary, with_time), distinct.indices)
    date = pc.binary_join_element_wise(
        _padded(pc.day(values), 2), _padded(pc.month(values), 2), _padded(pc.year(values), 4), "/"
    )
    if not with_time:
        return date
    time = pc.binary_join_element_wise(
        _padded(pc.hour(values), 2), _padded(pc.minute(values), 2), _padded(pc.second(values), 2), ":"
    )
    return pc.binary_join_element_wise(date, time, " ")


def percent(score: pa.Array, maximum: pa.Array) -> pa.Array:
    """`ceil(score x 100 / max)%`; empty where max is 0 or unknown.

    Rounded to 6 decimals before the ceiling so float sums such as 0.1 + 0.2 do not turn 100% into 101%.
    """
    maximum = pc.if_else(pc.greater(maximum, 0), maximum, pa.scalar(None, pa.float64()))
    ratio = pc.round(pc.divide(pc.multiply(pc.cast(score, pa.float64()), 100.0), pc.cast(maximum, pa.float64())), 6)
    whole = pc.cast(pc.ceil(ratio), pa.int64())
    return pc.binary_join_element_wise(pc.cast(whole, pa.string()), "%", "")


def list_match_counts(lists: pa.ListArray, value_set: pa.Array) -> pa.Array:
    """For each list, how many of its values are in `value_set` (the lists hold distinct values)."""
    (counts,) = list_match_counts_of_each(lists, [value_set])
    return counts


def list_match_counts_of_each(lists: pa.ListArray, value_sets: Sequence[pa.Array]) -> list[pa.Array]:
    """`list_match_counts` for several value sets, hashing the lists' values once (then one take per set)."""
    known = pa.concat_arrays([value_set.cast(pa.string()) for value_set in value_sets]).unique()
    known_positions = pc.index_in(lists.values, value_set=known)
    offsets = lists.offsets  # into lists.values, also when `lists` is a slice
    answers = []
    for value_set in value_sets:
        in_set = pc.is_in(known, value_set=value_set)
        hits = pc.cast(pc.fill_null(pc.take(in_set, known_positions), False), pa.int64())
        running = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(hits)])
        answers.append(pc.subtract(pc.take(running, offsets.slice(1)), pc.take(running, offsets.slice(0, len(lists)))))
    return answers


def single(table: pa.Table | pa.RecordBatch, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def user_range(user_ids: pa.ChunkedArray | pa.Array) -> tuple[str, str]:
    bounds = pc.min_max(user_ids)
    return bounds["min"].as_py(), bounds["max"].as_py()


def constant(value: str, length: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), length)


def batch_columns(batch: BatchInfo, length: int) -> list[pa.Array]:
    """Collection Id, Collection Name, Batch Id and Batch Name, the columns every batch dataset starts with."""
    collection = batch.collection
    names = (collection.collection_id, collection.name, batch.batch_id, batch.name)
    return [constant(value, length) for value in names]


def decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def csv_lines(columns: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Array:
    """Each row as its own CSV line (CRLF included), byte for byte what `encode_csv` writes for that row.

    The rules of Arrow's writer with `quoting_style="needed"`: a string is always quoted, its quotes doubled;
    a number never; a null is an empty field.
    """
    fields = [_csv_field(column) for column in columns]
    return pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, ","), "", "\r\n")


def _csv_field(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    column = decoded(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        return pc.fill_null(quoted, "")
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        # Arrow's CSV writer formats numbers by this same cast (shortest round-trip: 12.5, 1, 1e+20, nan).
        return pc.fill_null(pc.cast(column, pa.string()), "")
    raise TypeError(f"no CSV line rule for {column.type}")
