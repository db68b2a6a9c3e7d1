"""`exhaust lake check`: does a lake follow the contract the builders read it by (docs/lake.md, exhaust.lake.schemas)?

For every table: its columns and their types (by the index's rule), non-null columns without nulls, no enrolment
twice, rows in sort-key order within and across row groups and files, row groups no larger than the table's size
and never mixing two values of its `split_by` columns, min/max statistics on the sort key (readers skip row groups
by them); and the lake's completeness marker. Each violation names the table, the column and the first offending row.

By default it reads the footers and a sample (each file's first and last row group): a few reads per file, fast
on a lake of any size; `full=True` reads every row group of every file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from exhaust.lake.schemas import TABLES, TableSpec
from exhaust.lake.store import OVERLAY, Lake, Statistics
from exhaust.readiness import MARKER_NAME, parse_instant

# Written by `exhaust lake index` from the others: checked when present, their absence is the index's business.
DERIVED_TABLES = ("batch_users", "userinfo_lines", "response_lines")
# Read as empty when absent (org-level consents, identifiers, question types, registration consents, telemetry for
# the daily datasets, observations for the export API): a lake may go without them.
OPTIONAL_TABLES = (
    "org_consents",
    "user_identifiers",
    "question_types",
    "registration_consents",
    "telemetry",
    "observations",
)
# Tables whose sort key identifies a row: the same key twice is a duplicate (the index refuses duplicate enrolments).
UNIQUE_KEYS = {"enrolments": ("batch_id", "user_id")}
# A marker further ahead than this claims data the lake cannot hold yet (clocks of loaders differ a little).
MARKER_FUTURE_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Violation:
    table: str
    column: str | None  # None: the table or the lake as a whole
    problem: str
    file: str | None = None
    row_number: int | None = None  # 0-based, within the file
    row: dict[str, Any] | None = None  # the offending row's sort key and column

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: {self.problem}"
        if self.row_number is not None:
            shown = json.dumps(self.row, default=str, ensure_ascii=False) if self.row is not None else ""
            text += f"\n    first offending row: #{self.row_number} of {self.file} {shown}".rstrip()
        elif self.file:
            text += f" ({self.file})"
        return text


@dataclass
class Report:
    lake: str
    full: bool
    tables_checked: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _same_type(found: pa.DataType, expected: pa.DataType) -> bool:
    """The index's rule (exhaust.lake.index_parts.check_columns): Arrow type equality, list item names aside."""
    return bool(found.equals(expected))


def _key_of(row: dict[str, Any], columns: Sequence[str]) -> tuple[tuple[int, Any], ...]:
    # Nulls sort last, as the writer sorts (pyarrow's default null placement).
    return tuple((1, "") if row[name] is None else (0, row[name]) for name in columns)


class _TableCheck:
    def __init__(self, lake: Lake, spec: TableSpec, full: bool, report: Report):
        self.lake = lake
        self.spec = spec
        self.full = full
        self.report = report
        self.previous_last: tuple[tuple[Any, ...], str] | None = None  # the last sort key read, and its file

    def add(self, column: str | None, problem: str, **where: Any) -> None:
        self.report.violations.append(Violation(self.spec.name, column, problem, **where))

    def run(self) -> None:
        files = self.lake.files(self.spec.name)
        # An incremental index's overlay (docs/lake.md) is a sorted run of files of its own, after the table's.
        overlay = (self.lake.pointer(self.spec.name) or {}).get(OVERLAY) or {"files": []}
        first_overlay = f"{self.lake.table_dir(self.spec.name)}/{overlay['files'][0]}" if overlay["files"] else None
        for path, metadata in files:
            name = path.rsplit("/", 1)[-1]
            if path == first_overlay:
                self.previous_last = None
            if self._columns(name, metadata):
                self._footer(name, metadata)
                self._rows(path, name, metadata)
            else:
                self.previous_last = None

    def _columns(self, file: str, metadata: pq.FileMetaData) -> bool:
        """Every column of the contract, of its type; False when the file cannot be read by the contract at all."""
        found = metadata.schema.to_arrow_schema()
        readable = True
        for expected in self.spec.schema:
            index = found.get_field_index(expected.name)
            if index < 0:
                self.add(expected.name, "missing column", file=file)
                readable = False
            elif not _same_type(found.field(index).type, expected.type):
                self.add(expected.name, f"type {found.field(index).type}, the contract says {expected.type}", file=file)
                readable = False
        for extra in sorted(set(found.names) - set(self.spec.schema.names)):
            self.add(extra, "column not in the contract", file=file)
        return readable

    def _footer(self, file: str, metadata: pq.FileMetaData) -> None:
        """Row-group sizes, split columns and the sort key's statistics: from the footer alone."""
        positions = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
        first_row = 0
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            if row_group.num_rows > self.spec.row_group_size:
                self.add(
                    None,
                    f"row group {group} holds {row_group.num_rows} rows, over the table's {self.spec.row_group_size}",
                    file=file,
                    row_number=first_row + self.spec.row_group_size,
                )
            for column in self.spec.sort_key:
                statistics = Statistics.of(row_group.column(positions[column]))
                if statistics is None and row_group.num_rows:
                    self.add(
                        column,
                        f"row group {group} has no min/max statistics on this sort-key column (readers cannot skip it)",
                        file=file,
                    )
                    break
            first_row += row_group.num_rows

    def _groups_to_read(self, metadata: pq.FileMetaData) -> list[int]:
        count = metadata.num_row_groups
        if self.full or count <= 2:
            return list(range(count))
        return [0, count - 1]

    def _rows(self, path: str, file: str, metadata: pq.FileMetaData) -> None:
        """Nulls where the contract forbids them, sort order, split columns: in the row groups read."""
        not_null = [f.name for f in self.spec.schema if not f.nullable]
        columns = list(dict.fromkeys([*self.spec.sort_key, *not_null]))
        starts = [0]
        for group in range(metadata.num_row_groups):
            starts.append(starts[-1] + metadata.row_group(group).num_rows)
        groups = self._groups_to_read(metadata)
        reported: set[tuple[str | None, str]] = set()
        with self.lake.filesystem.open_input_file(path) as source:
            parquet = pq.ParquetFile(source, metadata=metadata)
            previous_group = None
            for group in groups:
                rows = parquet.read_row_group(group, columns=columns)
                if previous_group is not None and group != previous_group + 1:
                    self.previous_last = None  # a sample: the groups between were not read
                self._check_rows(rows, file, starts[group], not_null, reported)
                previous_group = group

    def _check_rows(
        self, rows: pa.Table, file: str, first_row: int, not_null: list[str], reported: set[tuple[str | None, str]]
    ) -> None:
        if not rows.num_rows:
            return
        key = list(self.spec.sort_key)

        def offending(index: int) -> dict[str, Any]:
            return {name: rows.column(name)[index].as_py() for name in rows.column_names}

        def add_once(column: str | None, problem: str, index: int) -> None:
            if (column, problem) not in reported:
                reported.add((column, problem))
                self.add(column, problem, file=file, row_number=first_row + index, row=offending(index))

        for column in not_null:
            nulls = rows.column(column).is_null()
            if pc.any(nulls).as_py():
                add_once(column, "null in a column the contract says is never null", _first_true(nulls))
        order = pc.sort_indices(rows, sort_keys=[(name, "ascending") for name in key])  # nulls last, as written
        misplaced = pc.not_equal(order, pa.array(range(rows.num_rows), type=order.type))
        if pc.any(misplaced).as_py():
            add_once(", ".join(key), "rows out of sort-key order", _first_true(misplaced))
        unique = UNIQUE_KEYS.get(self.spec.name)
        if unique:
            repeated = _first_repeat(rows, list(unique))
            if repeated is not None:
                add_once(", ".join(unique), "the same key twice (a duplicate row)", repeated)
        split = list(self.spec.split_by)
        if split and self._mixes(rows, split):
            add_once(", ".join(split), "a row group holds more than one value of its split columns", 0)
        first_key = _key_of(offending(0), key)
        if self.previous_last is not None and first_key < self.previous_last[0]:
            add_once(
                ", ".join(key), f"rows out of sort-key order (after the rows before, in {self.previous_last[1]})", 0
            )
        self.previous_last = (_key_of(offending(rows.num_rows - 1), key), file)

    @staticmethod
    def _mixes(rows: pa.Table, columns: list[str]) -> bool:
        return any(not pc.all(pc.equal(rows.column(name), rows.column(name)[0])).as_py() for name in columns)


def _first_repeat(rows: pa.Table, columns: list[str]) -> int | None:
    """The first row whose key equals the row before's (rows in key order), or None."""
    if rows.num_rows < 2:
        return None
    same = None
    for name in columns:
        column = rows.column(name)
        equal = pc.equal(column.slice(1), column.slice(0, rows.num_rows - 1))
        same = equal if same is None else pc.and_(same, equal)
    assert same is not None
    found = pc.indices_nonzero(pc.fill_null(same.combine_chunks(), False))
    return int(found[0].as_py()) + 1 if len(found) else None


def _first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.indices_nonzero(mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask)[0].as_py())


def _marker(lake: Lake, report: Report, now: dt.datetime) -> None:
    path = f"{lake.root}/{MARKER_NAME}"
    if lake.filesystem.get_file_info(path).type != pafs.FileType.File:
        report.violations.append(
            Violation(MARKER_NAME, None, "missing: the loader writes it after each load (docs/lake.md)")
        )
        return
    with lake.filesystem.open_input_stream(path) as source:
        raw = source.read()
    try:
        body = json.loads(raw)
        until = parse_instant(str(body["dataAvailableUntil"]))
    except (ValueError, KeyError, TypeError) as error:
        problem = f"dataAvailableUntil is not an ISO 8601 instant with its UTC offset ({error})"
        report.violations.append(Violation(MARKER_NAME, "dataAvailableUntil", problem))
        return
    if until > (now + MARKER_FUTURE_TOLERANCE).timestamp() * 1000:
        claimed = dt.datetime.fromtimestamp(until / 1000, dt.UTC).isoformat()
        report.violations.append(
            Violation(MARKER_NAME, "dataAvailableUntil", f"{claimed} is in the future: no load can be complete then")
        )


def check_lake(uri: str, *, full: bool = False, now: dt.datetime | None = None) -> Report:
    """Every violation of the contract in the lake at `uri` (a directory or s3://bucket/prefix)."""
    lake = Lake.open(uri)
    report = Report(uri, full)
    for spec in TABLES.values():
        if not lake.listing(spec.name):
            if spec.name not in (*DERIVED_TABLES, *OPTIONAL_TABLES):
                report.violations.append(Violation(spec.name, None, "missing: the table has no Parquet file"))
            continue
        report.tables_checked.append(spec.name)
        _TableCheck(lake, spec, full, report).run()
    _marker(lake, report, now or dt.datetime.now(dt.UTC))
    return report


def lines(report: Report) -> Iterator[str]:
    """The report as the command prints it: each violation, then one summary line."""
    for violation in report.violations:
        yield violation.describe()
    depth = "every row group read" if report.full else "footers and a sample read; --full reads every row group"
    tables = len(report.tables_checked)
    if report.ok:
        yield f"OK: {tables} tables follow the contract ({depth})"
    else:
        yield f"FAILED: {len(report.violations)} violations in {report.lake} ({tables} tables read; {depth})"
