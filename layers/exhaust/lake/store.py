"""Read and write the lake: a local directory or `s3://bucket/prefix`, Parquet files per table.

Reads skip row groups with Parquet min/max statistics before decoding anything: `scan("enrolments",
equals={"batch_id": b})` only fetches the row groups whose batch_id range can hold `b`, because every table is
written sorted by its sort key (exhaust.lake.schemas). The exact filter is then applied to the decoded rows.

A table is the Parquet files directly in its folder, or, when the folder holds a `_current.json` (the derived
tables the index writes), the files that pointer names. Those files are never rewritten: a reader that took the
pointer reads the same bytes to its end, whatever the index publishes meanwhile (exhaust.lake.index_parts).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from exhaust.lake.schemas import TABLES, TableSpec

DEFAULT_SCAN_ROWS = 65_536
CURRENT_FILES = "_current.json"
# An incremental index run's parts, in a pointer: {"files": [...], "batches": [...]}. Those batches' rows are read
# from these files, every other batch's from the pointer's "files" (Lake.pieces).
OVERLAY = "overlay"
POINTER_ATTEMPTS = 3  # listings of a table whose pointer moved meanwhile, before its files are called missing


def s3_filesystem() -> pafs.S3FileSystem:
    """S3 as the environment describes it: AWS_ENDPOINT_URL (local mode's moto server) and AWS_REGION."""
    options: dict[str, Any] = {"region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")}
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlparse(endpoint)
        options["endpoint_override"] = parsed.netloc or parsed.path
        options["scheme"] = parsed.scheme or "https"
    return pafs.S3FileSystem(**{name: value for name, value in options.items() if value})


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it of a lake root (`s3://bucket/prefix` or a directory)."""
    if uri.startswith("s3://"):
        return s3_filesystem(), uri.removeprefix("s3://").rstrip("/")
    return pafs.LocalFileSystem(), os.path.abspath(uri)


Bounds = tuple[Any, Any]


@dataclass(frozen=True)
class Piece:
    """Consecutive row groups of one file that may hold wanted rows, and the conditions to filter them by."""

    table: str
    path: str
    row_groups: tuple[int, ...]
    rows: int  # before filtering
    checked: Mapping[str, Bounds]  # empty when the statistics show every row matches
    isin: Mapping[str, Sequence[Any] | pa.Array]


@dataclass(frozen=True)
class Statistics:
    """One column chunk's min/max statistics, read out of the footer once (Parquet's objects are slow to ask)."""

    low: Any
    high: Any
    nulls_known_absent: bool

    @classmethod
    def of(cls, chunk: pq.ColumnChunkMetaData) -> Statistics | None:
        statistics = chunk.statistics
        if statistics is None or not statistics.has_min_max:
            return None
        return cls(statistics.min, statistics.max, statistics.has_null_count and not statistics.null_count)


def _holds_any(statistics: Mapping[str, Statistics | None], sorted_sets: Mapping[str, list[Any]]) -> bool:
    """Whether each membership column's [min, max] contains at least one of its wanted values."""
    for name, values in sorted_sets.items():
        found = statistics[name]
        if found is None:
            continue
        position = bisect.bisect_left(values, found.low)
        if position == len(values) or values[position] > found.high:
            return False
    return True


def _unproven(statistics: Mapping[str, Statistics | None], ranges: Mapping[str, Bounds]) -> frozenset[str] | None:
    """From the statistics alone: None when the row group holds no row within the ranges, else the columns whose
    range it may not hold for every row (empty: every row matches).

    Only those columns are decoded and compared (a big batch's middle row groups need none; a consent read by
    user range need not compare the collection and consumer of a row group that holds only theirs).
    """
    unproven = set()
    for name, (low, high) in ranges.items():
        found = statistics[name]
        if found is None:
            unproven.add(name)
            continue
        if (high is not None and found.low > high) or (low is not None and found.high < low):
            return None
        inside = (low is None or found.low >= low) and (high is None or found.high <= high)
        if not inside or not found.nulls_known_absent:
            unproven.add(name)
    return frozenset(unproven)


@dataclass
class Lake:
    """A lake root: `Lake.open("s3://bucket/lake")`, `Lake.open("/tmp/lake")`, or a filesystem and path."""

    filesystem: pafs.FileSystem
    root: str
    _files: dict[str, list[tuple[str, pq.FileMetaData]]] = field(default_factory=dict, repr=False)
    _statistics: dict[tuple[str, str], list[Statistics | None]] = field(default_factory=dict, repr=False)
    _pointers: dict[str, Mapping[str, Any] | None] = field(default_factory=dict, repr=False)
    _infos: dict[str, list[pafs.FileInfo]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, uri: str) -> Lake:
        filesystem, root = resolve(uri)
        return cls(filesystem, root)

    def table_dir(self, table: str) -> str:
        return f"{self.root}/{table}"

    def files(self, table: str) -> list[tuple[str, pq.FileMetaData]]:
        """The table's Parquet files in name order (a pointer's in its order, its overlay's last), with their
        footers (read once per Lake)."""
        if table not in self._files:
            footers = []
            for info in self._file_infos(table):
                with self.filesystem.open_input_file(info.path) as source:
                    footers.append((info.path, pq.ParquetFile(source).metadata))
            self._files[table] = footers
        return self._files[table]

    def listing(self, table: str) -> list[tuple[str, int, int]]:
        """The table's Parquet files as (name in the table's folder, size, modification time in ns), no footer read."""
        start = len(self.table_dir(table)) + 1
        return [(info.path[start:], int(info.size or 0), int(info.mtime_ns or 0)) for info in self._file_infos(table)]

    def current_files(self, table: str) -> Mapping[str, Any] | None:
        """The pointer naming a table's files (`CURRENT_FILES`), None for a table made of its folder's files."""
        # S3 reads the object's size, then its bytes: a publish in between gives a cut-off document, read it again.
        for attempt in range(POINTER_ATTEMPTS):
            try:
                with self.filesystem.open_input_stream(f"{self.table_dir(table)}/{CURRENT_FILES}") as source:
                    pointer: Mapping[str, Any] = json.loads(source.read())
                return pointer
            except FileNotFoundError:
                return None
            except json.JSONDecodeError:
                if attempt == POINTER_ATTEMPTS - 1:
                    raise
        return None

    def _file_infos(self, table: str) -> list[pafs.FileInfo]:
        """The table's files as listed once per Lake: its listing, pointer and footers agree."""
        if table not in self._infos:
            self._infos[table] = self._list_files(table)
        return self._infos[table]

    def _list_files(self, table: str) -> list[pafs.FileInfo]:
        folder = self.table_dir(table)
        flat = self.filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        if not any(info.base_name == CURRENT_FILES for info in flat):  # a source table: one LIST, as always
            own = [info for info in flat if info.type == pafs.FileType.File and info.path.endswith(".parquet")]
            return sorted(own, key=lambda info: info.path)
        # The pointer is read before its runs are listed; a publish in between names files the listing lacks, so
        # read and list again.
        runs = pafs.FileSelector(folder, allow_not_found=True, recursive=True)
        named: list[str] = []
        listed: dict[str, pafs.FileInfo] = {}
        for _ in range(POINTER_ATTEMPTS):
            pointer = self.current_files(table) or {"files": []}
            overlay = pointer.get(OVERLAY) or {"files": []}
            named = [f"{folder}/{name}" for name in [*pointer["files"], *overlay["files"]]]
            listed = {
                info.path: info for info in self.filesystem.get_file_info(runs) if info.type == pafs.FileType.File
            }
            if all(path in listed for path in named):
                self._pointers[table] = pointer
                return [listed[path] for path in named]
        missing = ", ".join(path for path in named if path not in listed)
        raise FileNotFoundError(f"{table}: {CURRENT_FILES} names files the lake does not hold: {missing}")

    def pointer(self, table: str) -> Mapping[str, Any] | None:
        """The pointer whose files `files(table)` answers (None for a table made of its folder's files); no footer
        is read for it."""
        self._file_infos(table)
        return self._pointers.get(table)

    def _overlaid(self, table: str) -> tuple[frozenset[str], list[str]] | None:
        """An incremental run's overlay of the table: its files' paths and its batches (sorted), or None."""
        overlay = (self.pointer(table) or {}).get(OVERLAY)
        if not overlay:
            return None
        folder = self.table_dir(table)
        return frozenset(f"{folder}/{name}" for name in overlay["files"]), sorted(overlay["batches"])

    def pieces(
        self,
        table: str,
        *,
        equals: Mapping[str, Any] | None = None,
        between: Mapping[str, Bounds] | None = None,
        isin: Mapping[str, Sequence[Any] | pa.Array] | None = None,
        rows: int | None = None,
    ) -> list[Piece]:
        """The runs of row groups that may hold rows matching every condition, cut into pieces of about `rows`.

        Pruned from the footers' statistics alone (`equals` and `between` inclusive, None for an open end;
        `isin` drops row groups whose [min, max] holds none of the values). Each piece reads independently
        (`read_piece`), so a builder can decode and compute several at once. Naive datetimes are taken as UTC.
        """
        ranges: dict[str, Bounds] = {name: (_utc(value), _utc(value)) for name, value in (equals or {}).items()}
        for name, (low, high) in (between or {}).items():
            ranges[name] = (_utc(low), _utc(high))
        isin = isin or {}
        sorted_sets = {name: sorted(_as_list(values)) for name, values in isin.items()}
        found: list[Piece] = []
        overlaid = self._overlaid(table)
        for path, metadata in self.files(table):
            by_column = {name: self._column_statistics(path, metadata, name) for name in [*ranges, *sorted_sets]}
            # Under an overlay a batch it re-indexed is read from its files alone; the other files' runs of row
            # groups are cut where an overlaid batch falls between two, so the pieces sort into the table's order.
            segments = [0] * metadata.num_row_groups
            replaced = [False] * metadata.num_row_groups
            if overlaid is not None:
                batch_ids = self._column_statistics(path, metadata, "batch_id")
                if path not in overlaid[0]:
                    replaced = [_batch_overlaid(stats, overlaid[1], path) for stats in batch_ids]
                segments = [bisect.bisect_left(overlaid[1], stats.low) if stats else 0 for stats in batch_ids]
            coverage = []
            for index in range(metadata.num_row_groups):
                statistics = {name: found[index] for name, found in by_column.items()}
                unproven = None if replaced[index] else _unproven(statistics, ranges)
                if unproven is not None and not _holds_any(statistics, sorted_sets):
                    unproven = None
                coverage.append((index, unproven, metadata.row_group(index).num_rows, segments[index]))
            # Consecutive row groups needing the same checks are read together, in file order.
            for (unproven, _), run in itertools.groupby(coverage, key=lambda item: (item[1], item[3])):
                if unproven is None:
                    continue
                checked = {name: bounds for name, bounds in ranges.items() if name in unproven}
                group: list[int] = []
                count = 0
                for index, _, num_rows, _ in run:
                    group.append(index)
                    count += num_rows
                    if rows is not None and count >= rows:
                        found.append(Piece(table, path, tuple(group), count, checked, isin))
                        group, count = [], 0
                if group:
                    found.append(Piece(table, path, tuple(group), count, checked, isin))
        if overlaid is not None:  # each piece holds batches no other piece holds: in batch order, the table's
            found.sort(key=lambda piece: self._first_batch(piece))
        return found

    def _first_batch(self, piece: Piece) -> str:
        metadata = dict(self.files(piece.table))[piece.path]
        statistics = self._column_statistics(piece.path, metadata, "batch_id")[piece.row_groups[0]]
        return "" if statistics is None else str(statistics.low)

    def _column_statistics(self, path: str, metadata: pq.FileMetaData, name: str) -> list[Statistics | None]:
        """Each row group's statistics of one column of one file, read out of the footer once per Lake."""
        key = (path, name)
        if key not in self._statistics:
            position = [metadata.schema.column(i).path for i in range(metadata.num_columns)].index(name)
            self._statistics[key] = [
                Statistics.of(metadata.row_group(index).column(position)) for index in range(metadata.num_row_groups)
            ]
        return self._statistics[key]

    def read_piece(
        self,
        piece: Piece,
        columns: Sequence[str] | None = None,
        *,
        batch_rows: int = DEFAULT_SCAN_ROWS,
        dictionary: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of the piece's rows that match its conditions, in the table's sort order.

        Columns named in `dictionary` come back dictionary-encoded, as Parquet stores them: much cheaper to
        decode for repetitive strings (states, districts, org names).
        """
        wanted = list(columns) if columns is not None else TABLES[piece.table].schema.names
        conditions = [*piece.checked, *piece.isin]
        read_columns = wanted + [name for name in conditions if name not in wanted]
        metadata = dict(self.files(piece.table))[piece.path]
        with self.filesystem.open_input_file(piece.path) as source:
            parquet = pq.ParquetFile(source, metadata=metadata, read_dictionary=list(dictionary) or None)
            for batch in parquet.iter_batches(
                batch_size=batch_rows, row_groups=list(piece.row_groups), columns=read_columns
            ):
                mask = _mask(batch, piece.checked, piece.isin)
                if mask is not None:
                    batch = batch.filter(mask)
                if batch.num_rows:
                    yield batch.select(wanted)

    def scan(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        *,
        equals: Mapping[str, Any] | None = None,
        between: Mapping[str, Bounds] | None = None,
        isin: Mapping[str, Sequence[Any] | pa.Array] | None = None,
        batch_rows: int = DEFAULT_SCAN_ROWS,
        dictionary: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of the rows that match every condition, in the table's sort order (see `pieces`)."""
        for piece in self.pieces(table, equals=equals, between=between, isin=isin):
            yield from self.read_piece(piece, columns, batch_rows=batch_rows, dictionary=dictionary)

    def count(self, table: str, **conditions: Any) -> int:
        """How many rows match (row groups that the statistics show to match wholly are not decoded)."""
        total = 0
        for piece in self.pieces(table, **conditions):
            if not piece.checked and not piece.isin:
                total += piece.rows
            else:
                names = [*piece.checked, *piece.isin][:1]
                total += sum(batch.num_rows for batch in self.read_piece(piece, names))
        return total

    def read(self, table: str, columns: Sequence[str] | None = None, **conditions: Any) -> pa.Table:
        """Like scan, as one table (only for the small tables or already narrowed reads)."""
        return self._table(table, list(self.scan(table, columns, **conditions)), columns)

    @staticmethod
    def _table(table: str, batches: list[pa.RecordBatch], columns: Sequence[str] | None) -> pa.Table:
        if batches:
            return pa.Table.from_batches(batches)
        spec = TABLES[table]
        return pa.schema([spec.schema.field(name) for name in columns or spec.schema.names]).empty_table()

    def write(
        self,
        table: str,
        data: pa.Table | Iterable[pa.Table],
        *,
        row_group_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Write a whole table (replacing it): sorted by its sort key, cut into row groups with statistics.

        Several tables given as an iterable are each sorted and appended in order, so they must already be in
        sort order relative to one another (e.g. one table per batch, in batch id order): memory then holds one
        part at a time. `metadata` goes into the footer (key-value pairs).
        """
        spec = TABLES[table]
        schema = spec.schema.with_metadata(dict(metadata)) if metadata else spec.schema
        path = f"{self.table_dir(table)}/part-00000.parquet"
        self.filesystem.create_dir(self.table_dir(table), recursive=True)
        parts = [data] if isinstance(data, pa.Table) else data
        with pq.ParquetWriter(
            path,
            schema,
            filesystem=self.filesystem,
            compression="zstd",
            # Statistics only where reads prune (the sort key): they are most of a footer, read by every build.
            write_statistics=list(spec.sort_key),
        ) as writer:
            for part in parts:
                for run in _runs(sort_table(spec, part), spec.split_by):
                    writer.write_table(run, row_group_size=row_group_size or spec.row_group_size)
        # Other files only now: in S3 the new object replaces the old one when its upload completes, so a reader
        # in the meantime still finds the whole previous table (an index run while requests build).
        self._remove(table, keep=path)
        self.forget(table)
        return path

    def forget(self, table: str) -> None:
        """Drop what this Lake read of the table's footers (after its files were replaced)."""
        self._files.pop(table, None)
        self._pointers.pop(table, None)
        self._infos.pop(table, None)
        for key in [key for key in self._statistics if key[0].startswith(f"{self.table_dir(table)}/")]:
            del self._statistics[key]

    def _remove(self, table: str, keep: str) -> None:
        selector = pafs.FileSelector(self.table_dir(table), allow_not_found=True)
        for info in self.filesystem.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path != keep:
                self.filesystem.delete_file(info.path)


def _batch_overlaid(statistics: Statistics | None, batches: list[str], path: str) -> bool:
    """Whether a row group of a derived table holds a batch of the (sorted) overlay batches. Its rows are one
    batch's (the index cuts a row group at each batch), so a row group that may hold an overlaid batch among
    others is a broken file, refused rather than read twice."""
    if statistics is None:
        raise ValueError(f"{path}: a row group without batch_id statistics under an overlay")
    first = bisect.bisect_left(batches, statistics.low)
    if first == len(batches) or batches[first] > statistics.high:
        return False
    if statistics.low != statistics.high:
        raise ValueError(f"{path}: a row group of batches {statistics.low}..{statistics.high} under an overlay")
    return True


def _as_list(values: Sequence[Any] | pa.Array) -> list[Any]:
    return [value for value in (values.to_pylist() if isinstance(values, pa.Array | pa.ChunkedArray) else values)
            if value is not None]  # fmt: skip


def _utc(value: Any) -> Any:
    """Timestamps in the lake are UTC: a naive datetime bound is taken as UTC (comparing would fail)."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _runs(table: pa.Table, columns: Sequence[str]) -> Iterator[pa.Table]:
    """The sorted table cut where any of `columns` changes value (each run then starts a row group), or whole."""
    if not columns or table.num_rows < 2:
        yield table
        return
    changed = None
    for column in columns:
        values = table.column(column)
        change = pc.not_equal(values.slice(1), values.slice(0, len(values) - 1))
        changed = change if changed is None else pc.or_(changed, change)
    changes = pc.indices_nonzero(changed)
    start = 0
    for end in [*(position + 1 for position in changes.to_pylist()), table.num_rows]:
        yield table.slice(start, end - start)
        start = end


def sort_table(spec: TableSpec, table: pa.Table) -> pa.Table:
    table = table.select(spec.schema.names).cast(spec.schema)
    return table.sort_by([(name, "ascending") for name in spec.sort_key])


def _mask(batch: pa.RecordBatch, ranges: Mapping[str, Bounds], isin: Mapping[str, Any]) -> pa.Array | None:
    mask = None
    for name, (low, high) in ranges.items():
        column = batch.column(name)
        if low is not None and low == high:
            parts = [pc.equal(column, low)]
        else:
            parts = []
            if low is not None:
                parts.append(pc.greater_equal(column, low))
            if high is not None:
                parts.append(pc.less_equal(column, high))
        for part in parts:
            mask = part if mask is None else pc.and_(mask, part)
    for name, values in isin.items():
        kind = batch.schema.field(name).type
        kind = kind.value_type if pa.types.is_dictionary(kind) else kind  # a column read dictionary-encoded
        value_set = values if isinstance(values, pa.Array) else pa.array(values, type=kind)
        part = pc.is_in(batch.column(name), value_set=value_set)
        mask = part if mask is None else pc.and_(mask, part)
    return mask
