"""Pieces every dataset builder shares: chunked reads of one batch, lookups, CSV encoding.

The value formats and CSV lines are in exhaust.lake.values (the index writes progress-exhaust's lines too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from exhaust.aes_zip import usable_cpus
from exhaust.lake import values
from exhaust.lake.store import Lake, Piece

CHUNK_ROWS = 32_768
INDEX, LIVE = "index", "live"
Item = TypeVar("Item")
Answer = TypeVar("Answer")
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, eol="\r\n", quoting_style="needed")


@dataclass(frozen=True)
class RowsFrom:
    """Where a build's rows come from: the lines `exhaust lake index` stored (INDEX) or the tables now (LIVE),
    and why the index could not answer."""

    source: str
    why_live: str = ""


FROM_INDEX = RowsFrom(INDEX)


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
    keys: Mapping[str, str],
    columns: Sequence[str],
    work: Callable[[pa.Table], tuple[pa.Buffer, int]],
    rows: int = CHUNK_ROWS,
    dictionary: Sequence[str] = (),
) -> Iterator[tuple[pa.Buffer, int]]:
    """`work(chunk)` for the rows of a table whose sort key starts with `keys` (a batch's enrolments, attempts or
    lines: `{"batch_id": ...}`), `rows` at a time, in order.

    The batch's row groups are cut into pieces of about `rows` that threads read and work on at once; a row
    group larger than `rows` is still worked on in chunks of `rows`, so memory holds a few chunks. Columns in
    `dictionary` are read dictionary-encoded.
    """

    def work_on_piece(piece: Piece) -> list[tuple[pa.Buffer, int]]:
        batches = lake.read_piece(piece, columns, batch_rows=min(rows, 65_536), dictionary=dictionary)
        return [answer for chunk in chunks_of(batches, rows) if (answer := work(chunk))[1]]

    for answers in in_parallel(work_on_piece, lake.pieces(table, equals=keys, rows=rows)):
        yield from answers


def stored_lines(
    lake: Lake, table: str, keys: Mapping[str, str], column: str, rows: int = CHUNK_ROWS
) -> Iterator[tuple[pa.Buffer, int]]:
    """The finished CSV lines the index stored (`column` of `table`) for `keys`, as the zip writer's chunks."""

    def chunk_csv(chunk: pa.Table) -> tuple[pa.Buffer, int]:
        return joined_lines(chunk.column(column)), chunk.num_rows

    return batch_chunks(lake, table, keys, [column], chunk_csv, rows)


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


def align(found: pa.Table, key: str, keys: pa.Array) -> pa.Table:
    """Rows of `found` in the order of `keys` (one per key; all-null where a key has no row)."""
    positions = pc.index_in(keys, value_set=found.column(key).combine_chunks())
    return found.take(positions)


def encode_csv(columns: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Buffer:
    """RFC 4180 lines (CRLF), UTF-8. Strings are always quoted, numbers never; nulls are empty fields.

    Answers an Arrow buffer (bytes-like, no copy): its memory goes back to Arrow's pool as soon as the zip
    writer is done with it, which keeps the process's resident memory flat over a long batch.
    """
    # Arrow's CSV writer formats a dictionary column about 3x slower than its decoded strings cost to make.
    table = pa.table({f"c{index}": values.decoded(column) for index, column in enumerate(columns)})
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _CSV_OPTIONS)
    return sink.getvalue()


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
