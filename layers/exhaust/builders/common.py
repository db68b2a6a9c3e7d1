"""Pieces every dataset builder shares: chunked reads of one batch, lookups, value formats, CSV encoding.

Formats (docs/lake.md): dates `dd/MM/yyyy`, date-times `dd/MM/yyyy HH:mm:ss`, both in UTC; scores
`ceil(score x 100 / max)` followed by `%`; empty fields for unknown values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from exhaust.lake.extracts import BATCH_USERS
from exhaust.lake.store import Lake, Piece
from exhaust.packaging import usable_cpus

CHUNK_ROWS = 32_768
Item = TypeVar("Item")
Answer = TypeVar("Answer")
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, eol="\r\n", quoting_style="needed")

USER_COLUMNS = (
    "user_id",
    "name",
    "state",
    "district",
    "block",
    "cluster",
    "school_id",
    "school_name",
    "org_name",
    "board",
    "user_type",
    "user_sub_type",
    "declared_org",
    "email",
    "phone",
)


def in_parallel(work: Callable[[Item], Answer], items: Iterable[Item], workers: int | None = None) -> Iterator[Answer]:
    """`work(item)` for every item on `workers` threads (default: every usable CPU), answered in item order.

    At most `workers` items are in progress at once, so memory holds that many chunks whatever the batch size.
    Arrow decodes, computes and writes CSV with the GIL released, so the threads do run at once.
    """
    workers = workers or usable_cpus()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
        pending: deque[Future[Answer]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def batch_chunks(
    lake: Lake,
    table: str,
    batch_id: str,
    columns: Sequence[str],
    work: Callable[[pa.Table], tuple[pa.Buffer, int]],
    rows: int = CHUNK_ROWS,
    dictionary: Sequence[str] = (),
) -> Iterator[tuple[pa.Buffer, int]]:
    """`work(chunk)` for the batch's rows of a batch-keyed table (enrolments, attempts), `rows` at a time, in order.

    The batch's row groups are cut into pieces of about `rows` that threads read and work on at once; a row
    group larger than `rows` is still worked on in chunks of `rows`, so memory holds a few chunks. Columns in
    `dictionary` are read dictionary-encoded.
    """

    def work_on_piece(piece: Piece) -> list[tuple[pa.Buffer, int]]:
        batches = lake.read_piece(piece, columns, batch_rows=min(rows, 65_536), dictionary=dictionary)
        return [answer for chunk in chunks_of(batches, rows) if (answer := work(chunk))[1]]

    for answers in in_parallel(work_on_piece, lake.pieces(table, equals={"batch_id": batch_id}, rows=rows)):
        yield from answers


def chunks_of(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of about `rows` rows (never splitting one record batch)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def user_range(user_ids: pa.ChunkedArray | pa.Array) -> tuple[str, str]:
    bounds = pc.min_max(user_ids)
    return bounds["min"].as_py(), bounds["max"].as_py()


def align(found: pa.Table, key: str, keys: pa.Array) -> pa.Table:
    """Rows of `found` in the order of `keys` (one per key; all-null where a key has no row)."""
    positions = pc.index_in(keys, value_set=found.column(key).combine_chunks())
    return found.take(positions)


# Few distinct values each: read dictionary-encoded, they decode and align several times faster.
CATEGORICAL_USER_COLUMNS = frozenset(
    {"state", "district", "block", "cluster", "org_name", "board", "user_type", "user_sub_type", "declared_org"}
)


def profiles_of(lake: Lake, batch_id: str, user_ids: pa.Array, columns: Sequence[str] = USER_COLUMNS) -> pa.Table:
    """The profiles of some of a batch's users (sorted ids), aligned with `user_ids`, from the batch_users extract.

    The extract is sorted like enrolments, so a chunk of enrolments reads the run of rows of its id range;
    when that run is the chunk's users in the same order (progress), no alignment is needed.
    """
    low, high = user_range(user_ids)
    dictionary = [name for name in columns if name in CATEGORICAL_USER_COLUMNS]
    found = lake.read(
        BATCH_USERS,
        list(columns),
        equals={"batch_id": batch_id},
        between={"user_id": (low, high)},
        dictionary=dictionary,
    )
    if found.num_rows == len(user_ids) and found.column("user_id").combine_chunks().equals(user_ids):
        return found
    return align(found, "user_id", user_ids)


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


def named(table: pa.Table, **sources: str) -> pa.Table:
    """A table of the given columns, each taken by name (aggregations name theirs `<column>_<function>`)."""
    return pa.table({name: table.column(source) for name, source in sources.items()})


def single(table: pa.Table | pa.RecordBatch, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def constant(value: str, length: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), length)


def encode_csv(columns: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Buffer:
    """RFC 4180 lines (CRLF), UTF-8. Strings are always quoted, numbers never; nulls are empty fields.

    Answers an Arrow buffer (bytes-like, no copy): its memory goes back to Arrow's pool as soon as the zip
    writer is done with it, which keeps the process's resident memory flat over a long batch.
    """
    # Arrow's CSV writer formats a dictionary column about 3x slower than its decoded strings cost to make.
    table = pa.table({f"c{index}": _decoded(column) for index, column in enumerate(columns)})
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _CSV_OPTIONS)
    return sink.getvalue()


def _decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def csv_lines(columns: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Array:
    """Each row as its own CSV line (CRLF included), byte for byte what `encode_csv` writes for that row.

    The rules of Arrow's writer with `quoting_style="needed"`: a string is always quoted, its quotes doubled;
    a number never; a null is an empty field.
    """
    fields = [_csv_field(column) for column in columns]
    return pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, ","), "", "\r\n")


def _csv_field(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    column = _decoded(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        return pc.fill_null(quoted, "")
    if pa.types.is_integer(column.type):
        return pc.fill_null(pc.cast(column, pa.string()), "")
    raise TypeError(f"no CSV line rule for {column.type}")


def joined_lines(lines: pa.Array | pa.ChunkedArray) -> pa.Buffer:
    """The lines' bytes, one after another (a slice of the string array's data, no copy for one chunk)."""
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    if lines.null_count:
        raise ValueError("a row has no line")
    if not len(lines):
        return pa.py_buffer(b"")
    _, offsets, data = lines.buffers()
    bounds = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, offsets], offset=lines.offset)
    start, end = bounds[0].as_py(), bounds[-1].as_py()
    return data.slice(start, end - start) if data is not None else pa.py_buffer(b"")
