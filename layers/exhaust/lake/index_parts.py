"""The index's unit of work, shared by both engines: one part (a range of batch ids) of the three derived tables.

`exhaust lake index` (exhaust.lake.materialized, one process) and the Spark job (exhaust.lake.spark_index) differ
only in how a part's rows reach `index_part`: the process reads them from the lake, Spark reads, joins and
shuffles them by part. Everything that decides a byte of the output happens here, once:

- the parts: consecutive batches in batch id order, a new part when the next batch would take it past
  `part_rows` enrolment and attempt rows (`plan_parts`); part N of every derived table is
  `{table}/part-{N:05d}.parquet` and holds the same range of batches, so no footer grows with the lake;
- the rows: sorted here by the tables' keys, whatever order they came in; the lines from the rules the builders
  use (exhaust.lake.progress_lines, userinfo_rows, response_rows);
- the row groups: cut from the sorted rows alone (`RowGroupWriter`): a new one at each batch (each consumer
  for userinfo_lines) and every `row_group_size` rows, however the rows were chunked on their way;
- publication: parts are written under `{table}/_runs/{run}/`, never rewritten; the table's `_current.json` names
  them only when every part of the run is written (`publish`). A run that fails leaves the previous tables as
  they were; a reader keeps reading the run it found while a newer one is published.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from exhaust.aws_limits import LAMBDA_MAX_TIMEOUT_SECONDS
from exhaust.lake import response_rows, schemas, userinfo_rows, values
from exhaust.lake.catalog import BatchInfo, Catalog
from exhaust.lake.consents import latest_active_among
from exhaust.lake.extracts import BATCH_USERS, PROGRESS_LINE, SOURCE_TABLES
from exhaust.lake.progress_lines import ENROLMENT_COLUMNS, lines
from exhaust.lake.schemas import TABLES, TableSpec
from exhaust.lake.store import CURRENT_FILES, OVERLAY, Lake

USERINFO_LINES = "userinfo_lines"
RESPONSE_LINES = "response_lines"
DERIVED_TABLES = (BATCH_USERS, USERINFO_LINES, RESPONSE_LINES)
USERINFO_LINE = "userinfo_line"
RESPONSE_LINE = "response_line"
# What each table's lines derive from besides batch_users' sources: a change to any of their files makes the
# lines stale (absent: recorded as no file, so a table that appears later makes them stale too).
USERINFO_SOURCES = (*SOURCE_TABLES, "consents")
RESPONSE_SOURCES = ("collections", "batches", "assessment_attempts", "question_types", "registration_consents")
# Each run's parts: `{table}/_runs/{run}/part-NNNNN.parquet`, never rewritten; `_current.json` names the table's.
RUNS_DIR = "_runs"
# A replaced run's files stay this long: a reader (a builder, at most one Lambda invocation: LAMBDA_MAX_TIMEOUT_SECONDS)
# that took the previous pointer reads them to its end; twice that for the clocks of the machines involved.
RETIRED_RUN_GRACE_SECONDS = 2 * LAMBDA_MAX_TIMEOUT_SECONDS
# A run no pointer names and that wrote nothing for a day was left by an index that crashed before publishing.
ORPHAN_AGE_SECONDS = 24 * 3600
# Enrolment and attempt rows per part: a Spark task's input (its memory) and a part file's share of the lake.
PART_ROWS = 500_000
# What a part needs of the source tables.
ENROLLED_COLUMNS = ("batch_id", *ENROLMENT_COLUMNS)
PROFILE_FIELDS = tuple(name for name in schemas.USERS.names if name != "user_id")
ATTEMPT_SORT_KEY = TABLES["assessment_attempts"].sort_key
ATTEMPT_COLUMNS = tuple(dict.fromkeys([*ATTEMPT_SORT_KEY, *response_rows.ATTEMPT_COLUMNS]))
ENROLLED_SCHEMA = pa.schema(
    [schemas.ENROLMENTS.field(name) for name in ENROLLED_COLUMNS]
    + [schemas.USERS.field(name).with_nullable(True) for name in PROFILE_FIELDS]
)
ATTEMPTS_SCHEMA = pa.schema([schemas.ASSESSMENT_ATTEMPTS.field(name) for name in ATTEMPT_COLUMNS])
# A consent event's place in the lake (file number * EVENT_ORDER_FILE + row in the file): the order the single
# process reads the events in, which breaks ties of time (exhaust.lake.consents).
EVENT_ORDER = "event_order"
EVENT_ORDER_FILE = 1 << 40
# The consent events a part needs when they reach it joined (the Spark job): each event of a user enrolled in one
# of the part's batches that ask for consent, for that batch's collection.
CONSENT_EVENTS_SCHEMA = pa.schema(
    [
        schemas.ENROLMENTS.field("batch_id"),
        *(schemas.CONSENTS.field(name) for name in ("consumer_id", "user_id", "status", "consented_on")),
        pa.field(EVENT_ORDER, pa.int64(), nullable=False),
    ]
)
# What each source table must hold for the index to read it (name -> type), checked before anything is written.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "collections": tuple(schemas.COLLECTIONS.names),
    "batches": ("batch_id", "collection_id", "name", "start_date", "end_date"),
    "enrolments": ENROLLED_COLUMNS,
    "users": tuple(schemas.USERS.names),
    "assessment_attempts": ATTEMPT_COLUMNS,
    "consents": ("collection_id", "consumer_id", "user_id", "status", "consented_on"),
    "registration_consents": ("collection_id", "user_id", "status", "consented_on"),
    "question_types": ("question_type", "requires_registration_consent"),
}
_KEY_SEPARATOR = "\x1f"  # joins (batch_id, user_id) into one key; neither identifier holds this control character
_LINE_ROWS = 32_768  # rows whose lines are computed at once: bounds memory whatever the batch size


class LakeContractError(ValueError):
    """The lake breaks the contract the index relies on (docs/lake.md): refused before anything is written."""


@dataclass(frozen=True)
class Part:
    """Part `number`: the batches from `first` to `last` (inclusive, in batch id order)."""

    number: int
    first: str
    last: str


@dataclass(frozen=True)
class IndexRun:
    """What every part of one index run shares: plain data, so a Spark task gets it with its closure.

    `sources`: each derived table the run writes, with the source files its rows derive from (what its pointer
    records, exhaust.lake.extracts.staleness reads). `overlay`: None for a full run; for an incremental one the
    batches it re-indexes (sorted), whose rows then come from this run's parts and every other batch's from the
    previous tables' files (docs/lake.md, "Incremental runs").
    """

    parts: tuple[Part, ...]
    sources: Mapping[str, Mapping[str, object]]
    consumers: Mapping[str, Sequence[str]]  # per collection asking for consent, its consumers (sorted)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    overlay: tuple[str, ...] | None = None

    def staged(self, root: str, table: str, part: int) -> str:
        # Where the part stays once published: no reader finds it before the table's pointer names it.
        return f"{root}/{table}/{RUNS_DIR}/{self.token}/{part_file(part)}"

    def part_of(self, batch_ids: Sequence[str]) -> list[int]:
        """The part number of each batch id (every id must lie in the planned range)."""
        firsts = [part.first for part in self.parts]
        return [bisect.bisect_right(firsts, batch_id) - 1 for batch_id in batch_ids]


def part_file(number: int) -> str:
    return f"part-{number:05d}.parquet"


def plan_parts(rows_by_batch: Mapping[str, int], part_rows: int = PART_ROWS) -> tuple[Part, ...]:
    """Consecutive batches, in batch id order, cut where the next batch would take a part past `part_rows` rows
    (a batch larger than that is a part of its own). At least one part, so an empty lake still gets its tables."""
    return plan_parts_in_order(((batch_id, rows_by_batch[batch_id]) for batch_id in sorted(rows_by_batch)), part_rows)


def plan_parts_in_order(rows_by_batch: Iterable[tuple[str, int]], part_rows: int = PART_ROWS) -> tuple[Part, ...]:
    """plan_parts over (batch id, rows) pairs arriving in batch id order: memory holds the parts, not the batches
    (the Spark job's driver streams them)."""
    parts: list[Part] = []
    first = last = ""
    rows = 0
    for batch_id, count in rows_by_batch:
        if rows and rows + count > part_rows:
            parts.append(Part(len(parts), first, last))
            rows = 0
        if not rows:
            first = batch_id
        rows += max(count, 1)
        last = batch_id
    if rows or not parts:
        parts.append(Part(len(parts), first, last))
    return tuple(parts)


def check_columns(lake: Lake) -> None:
    """Refuse a source table whose file lacks a column the index reads, or holds it with another type."""
    for table, columns in REQUIRED_COLUMNS.items():
        expected = TABLES[table].schema
        for path, metadata in lake.files(table):
            found = metadata.schema.to_arrow_schema()
            name = path.rsplit("/", 1)[-1]
            for column in columns:
                if column not in found.names:
                    raise LakeContractError(f"{table}: {name} has no column {column} (row 0 on)")
                wanted, actual = expected.field(column).type, found.field(column).type
                if not actual.equals(wanted):
                    raise LakeContractError(
                        f"{table}: {name} holds column {column} as {actual}, not {wanted} (row 0 on)"
                    )


def duplicate_enrolment_message(batch_id: str, user_id: str) -> str:
    return f"enrolments: a duplicate enrolment in columns batch_id, user_id; first: ({batch_id!r}, {user_id!r})"


def check_no_duplicate_enrolment(keys: pa.Table) -> None:
    """Refuse enrolments holding a (batch_id, user_id) twice, naming the first in key order."""
    ordered = keys.sort_by([("batch_id", "ascending"), ("user_id", "ascending")])
    key = _enrolment_key(ordered)
    if len(key) < 2:
        return
    repeats = pc.indices_nonzero(pc.equal(key.slice(1), key.slice(0, len(key) - 1)))
    if len(repeats):
        row = ordered.slice(repeats[0].as_py(), 1).to_pylist()[0]
        raise LakeContractError(duplicate_enrolment_message(row["batch_id"], row["user_id"]))


def rows_by_batch(*batch_ids: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Rows per batch id over the given columns (enrolments' and attempts' batch ids): what plan_parts weighs."""
    found: dict[str, int] = {}
    for column in batch_ids:
        counted = pc.value_counts(column)
        for batch_id, count in zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        ):
            found[batch_id] = found.get(batch_id, 0) + count
    return found


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The columns of `schema`, in its order and types (Spark hands timestamps in microseconds)."""
    return pa.table([table[name].cast(schema.field(name).type) for name in schema.names], schema=schema)


def _enrolment_key(table: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        values.single(table, "batch_id"), values.single(table, "user_id"), _KEY_SEPARATOR
    )


def best_attempts(attempts: pa.Table) -> tuple[pa.Array, pa.ListArray]:
    """(batch_id, user_id) keys and, for each, the best attempt per content, in content_id order.

    An attempt's score and max are the sums over its questions (nulls skipped), summed in question order; the
    best has the highest score, then the lowest max; an attempt without any score ranks last.
    """
    ordered = attempts.sort_by([(name, "ascending") for name in ATTEMPT_SORT_KEY])
    # Without threads, sums and "first" follow the rows' order: the same doubles whatever engine read them.
    sums = ordered.group_by(["batch_id", "user_id", "content_id", "attempt_id"], use_threads=False).aggregate(
        [("question_score", "sum"), ("question_max_score", "sum")]
    )
    ranked = sums.sort_by(
        [
            ("batch_id", "ascending"),
            ("user_id", "ascending"),
            ("content_id", "ascending"),
            ("question_score_sum", "descending"),
            ("question_max_score_sum", "ascending"),
        ]
    )
    best = ranked.group_by(["batch_id", "user_id", "content_id"], use_threads=False).aggregate(
        [("question_score_sum", "first"), ("question_max_score_sum", "first")]
    )
    best = best.sort_by([("batch_id", "ascending"), ("user_id", "ascending"), ("content_id", "ascending")])
    entries = pa.StructArray.from_arrays(
        [
            values.single(best, "content_id"),
            values.single(best, "question_score_sum_first"),
            values.single(best, "question_max_score_sum_first"),
        ],
        fields=list(schemas.BEST_ATTEMPT),
    )
    keys = _enrolment_key(best)
    # Each enrolment's entries are a run of rows: its list starts where the key changes.
    changes = pc.indices_nonzero(pc.not_equal(keys.slice(1), keys.slice(0, max(len(keys) - 1, 0))))
    starts = pa.concat_arrays([pa.array([0] if len(keys) else [], pa.int32()), pc.cast(pc.add(changes, 1), pa.int32())])
    offsets = pa.concat_arrays([starts, pa.array([len(keys)], pa.int32())])
    return keys.take(starts), pa.ListArray.from_arrays(offsets, entries)


def batch_runs(batch_ids: pa.Array) -> list[tuple[int, int]]:
    """(start, length) of each batch's run of rows (rows sorted by batch)."""
    if not len(batch_ids):
        return []
    changes = pc.indices_nonzero(pc.not_equal(batch_ids.slice(1), batch_ids.slice(0, len(batch_ids) - 1)))
    starts = [0, *(position + 1 for position in changes.to_pylist())]
    return [(start, end - start) for start, end in zip(starts, [*starts[1:], len(batch_ids)], strict=True)]


class RowGroupWriter:
    """Writes a derived table's sorted rows: a row group per `split_by` value, cut every `row_group_size` rows.

    The row groups depend on the rows alone, not on the pieces they arrive in: both engines write the same bytes.
    Memory holds at most one row group.
    """

    def __init__(self, filesystem: pafs.FileSystem, path: str, spec: TableSpec, metadata: Mapping[str, str]):
        self.spec = spec
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.pending_key: tuple[object, ...] | None = None
        self.rows = 0
        filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        self.writer = pq.ParquetWriter(
            path,
            spec.schema.with_metadata(dict(metadata)),
            filesystem=filesystem,
            compression="zstd",
            # Statistics only where reads prune (the sort key): they are most of a footer, read by every build.
            write_statistics=list(spec.sort_key),
        )

    def add(self, rows: pa.Table) -> None:
        """Append rows sorted by the table's key and following every row added before."""
        rows = conform(rows, self.spec.schema)
        size = self.spec.row_group_size
        for start, length in self._split_runs(rows):
            run = rows.slice(start, length)
            key = tuple(run[name][0].as_py() for name in self.spec.split_by)
            if key != self.pending_key:
                self._write_pending()
                self.pending_key = key
            self.pending.append(run)
            self.pending_rows += length
            while self.pending_rows >= size:
                table = pa.concat_tables(self.pending)
                self.writer.write_table(table.slice(0, size), row_group_size=size)
                self.rows += size
                self.pending = [table.slice(size)]
                self.pending_rows -= size

    def _split_runs(self, rows: pa.Table) -> list[tuple[int, int]]:
        if not rows.num_rows:
            return []
        if not self.spec.split_by:
            return [(0, rows.num_rows)]
        key = values.single(rows, self.spec.split_by[0])
        for name in self.spec.split_by[1:]:
            key = pc.binary_join_element_wise(key, values.single(rows, name), _KEY_SEPARATOR)
        return batch_runs(key)

    def _write_pending(self) -> None:
        if self.pending_rows:
            table = pa.concat_tables(self.pending)
            self.writer.write_table(table, row_group_size=self.spec.row_group_size)
            self.rows += table.num_rows
        self.pending, self.pending_rows = [], 0

    def close(self) -> int:
        """Write what is left; answer the number of rows written."""
        self._write_pending()
        self.writer.close()
        return self.rows


def _slices(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


def batch_users_rows(catalog: Catalog, enrolled: pa.Table, best: tuple[pa.Array, pa.ListArray]) -> Iterator[pa.Table]:
    """batch_users rows of sorted enrolments with their profiles, a batch (a slice of a large one) at a time."""
    keys, lists = best
    extract = pa.table(
        {
            "batch_id": enrolled["batch_id"],
            "user_id": enrolled["user_id"],
            **{name: enrolled[name] for name in PROFILE_FIELDS},
            "best_attempts": lists.take(pc.index_in(_enrolment_key(enrolled), value_set=keys)),
        }
    )
    for start, length in batch_runs(values.single(enrolled, "batch_id")):
        batch = catalog.batch(extract["batch_id"][start].as_py())
        for rows, enrolments in zip(
            _slices(extract.slice(start, length), _LINE_ROWS),
            _slices(enrolled.slice(start, length), _LINE_ROWS),
            strict=True,
        ):
            if batch is None or batch.retired:
                line = pa.nulls(rows.num_rows, pa.string())
            else:
                line = lines(batch, enrolments, rows)
            yield rows.append_column(PROGRESS_LINE, line)


def userinfo_rows_of(
    lake: Lake, batch: BatchInfo, consumer_id: str, profiles: pa.Table, active: pa.Table | None = None
) -> pa.Table | None:
    """userinfo_lines rows of the consenting users among a piece of the batch's batch_users rows (None: none);
    `active` as userinfo_rows.consenting_columns takes it."""
    columns = userinfo_rows.consenting_columns(lake, batch, consumer_id, profiles, active)
    length = len(columns[0])
    if not length:
        return None
    return pa.table(
        {
            "batch_id": values.constant(batch.batch_id, length),
            "consumer_id": values.constant(consumer_id, length),
            "user_id": values.decoded(columns[userinfo_rows.USER_UUID]),
            USERINFO_LINE: values.csv_lines(columns),
        }
    )


def response_rows_of(lake: Lake, batch: BatchInfo, chunk: pa.Table, first: int, needing: pa.Array) -> pa.Table:
    """response_lines rows of a piece of the batch's attempt rows (ATTEMPT_COLUMNS), numbered from `first`."""
    length = chunk.num_rows
    return pa.table(
        {
            "batch_id": values.constant(batch.batch_id, length),
            "line_number": pa.array(range(first, first + length), pa.int64()),
            RESPONSE_LINE: values.csv_lines(response_rows.columns(lake, batch, chunk, needing)),
        }
    )


def index_part(
    lake: Lake,
    catalog: Catalog,
    needing: pa.Array,
    run: IndexRun,
    part: Part,
    enrolled: pa.Table,
    attempts: pa.Table,
    consents: pa.Table | None = None,
) -> dict[str, int]:
    """Write part `part` of the three derived tables under the run's staging directory; answer their row counts.

    `enrolled`: the part's enrolments (ENROLLED_COLUMNS) with their users' profiles (null for an unknown user);
    `attempts`: the part's attempt rows (ATTEMPT_COLUMNS); `consents`: the part's consent events
    (CONSENT_EVENTS_SCHEMA) when the caller joined them, None to read them from the lake per batch and consumer.
    Any order: all are sorted here.
    """
    enrolled = conform(enrolled, ENROLLED_SCHEMA).sort_by([("batch_id", "ascending"), ("user_id", "ascending")])
    attempts = conform(attempts, ATTEMPTS_SCHEMA).sort_by([(name, "ascending") for name in ATTEMPT_SORT_KEY])
    if run.overlay is not None:  # an incremental run: the rows of the batches it re-indexes, nothing else
        enrolled = enrolled.filter(pc.is_in(enrolled["batch_id"], value_set=pa.array(run.overlay, pa.string())))
        attempts = attempts.filter(pc.is_in(attempts["batch_id"], value_set=pa.array(run.overlay, pa.string())))
    writers = {
        table: RowGroupWriter(lake.filesystem, run.staged(lake.root, table, part.number), TABLES[table], {})
        for table in run.sources
    }
    if BATCH_USERS in writers:
        for rows in batch_users_rows(catalog, enrolled, best_attempts(attempts)):
            writers[BATCH_USERS].add(rows)
    if USERINFO_LINES in writers:
        events = None if consents is None else ConsentEvents(consents)
        _userinfo(lake, catalog, run, part, enrolled, events, writers[USERINFO_LINES])
    if RESPONSE_LINES in writers:
        _response(lake, catalog, needing, attempts, writers[RESPONSE_LINES])
    return {table: writer.close() for table, writer in writers.items()}


class ConsentEvents:
    """A part's joined consent events (CONSENT_EVENTS_SCHEMA), answering each (batch, consumer)'s ACTIVE latest
    consents with the rule the lake reads use (exhaust.lake.consents), over the events in the lake's order."""

    def __init__(self, events: pa.Table):
        self.events = conform(events, CONSENT_EVENTS_SCHEMA).sort_by(
            [("batch_id", "ascending"), ("consumer_id", "ascending"), (EVENT_ORDER, "ascending")]
        )
        key = pc.binary_join_element_wise(
            values.single(self.events, "batch_id"), values.single(self.events, "consumer_id"), _KEY_SEPARATOR
        )
        self.runs = {key[start].as_py(): (start, length) for start, length in batch_runs(key)}

    def active(self, batch_id: str, consumer_id: str) -> pa.Table:
        start, length = self.runs.get(f"{batch_id}{_KEY_SEPARATOR}{consumer_id}", (0, 0))
        return latest_active_among(self.events.slice(start, length).select(["user_id", "status", "consented_on"]))


def _userinfo(
    lake: Lake,
    catalog: Catalog,
    run: IndexRun,
    part: Part,
    enrolled: pa.Table,
    consents: ConsentEvents | None,
    out: RowGroupWriter,
) -> None:
    enrolled_runs = dict(_runs_by_batch(enrolled))
    for batch in _batches_in(catalog, part):
        start, length = enrolled_runs.get(batch.batch_id, (0, 0))
        if not batch.requires_consent or not length:
            continue
        profiles = enrolled.slice(start, length).select(userinfo_rows.PROFILE_COLUMNS)
        for consumer_id in run.consumers.get(batch.collection_id, ()):
            active = None if consents is None else consents.active(batch.batch_id, consumer_id)
            for piece in _slices(profiles, _LINE_ROWS):
                found = userinfo_rows_of(lake, batch, consumer_id, piece, active)
                if found is not None:
                    out.add(found)


def _response(lake: Lake, catalog: Catalog, needing: pa.Array, attempts: pa.Table, out: RowGroupWriter) -> None:
    for batch_id, (start, length) in _runs_by_batch(attempts):
        batch = catalog.batch(batch_id)
        if batch is None or batch.retired:
            continue
        for first in range(0, length, _LINE_ROWS):
            chunk = attempts.slice(start + first, min(_LINE_ROWS, length - first))
            out.add(response_rows_of(lake, batch, chunk, first, needing))


def _runs_by_batch(table: pa.Table) -> Iterator[tuple[str, tuple[int, int]]]:
    batch_ids = values.single(table, "batch_id")
    for start, length in batch_runs(batch_ids):
        yield batch_ids[start].as_py(), (start, length)


def _batches_in(catalog: Catalog, part: Part) -> list[BatchInfo]:
    return sorted(
        (
            batch
            for batch in catalog.batches.values()
            if part.first <= batch.batch_id <= part.last and not batch.retired
        ),
        key=lambda batch: batch.batch_id,
    )


def recorded_sources(
    snapshot: Mapping[str, object], tables: Sequence[str] = DERIVED_TABLES
) -> dict[str, dict[str, object]]:
    """Each derived table's source files, out of the snapshot of every table the index read: batch_users' from
    SOURCE_TABLES; userinfo_lines' those and the consents (the userinfo rules read both); response_lines' theirs."""
    own = {BATCH_USERS: SOURCE_TABLES, USERINFO_LINES: USERINFO_SOURCES, RESPONSE_LINES: RESPONSE_SOURCES}
    return {table: {source: snapshot[source] for source in own[table]} for table in tables}


def publish(lake: Lake, run: IndexRun, now: dt.datetime | None = None, state: Mapping[str, Any] | None = None) -> None:
    """Point each derived table at the run's parts, then delete the runs retired long enough ago.

    Called once every part is written: until then the previous tables stay whole. The pointer is one object put
    (one rename locally), so a reader finds either the previous run's files or this run's, and the files it found
    stay, unchanged, for `RETIRED_RUN_GRACE_SECONDS` after they are replaced. A full run's parts are the table's
    files; an incremental run's are its overlay, over the previous pointer's files. `state`: what the next
    incremental run compares the lake with (exhaust.lake.index_state), recorded in batch_users' pointer.
    """
    now = now or dt.datetime.now(dt.UTC)
    written = [f"{RUNS_DIR}/{run.token}/{part_file(part.number)}" for part in run.parts]
    for table in run.sources:
        folder = lake.table_dir(table)
        previous = lake.current_files(table)
        pointer: dict[str, Any] = {"run": run.token, "files": written}
        if run.overlay is not None:
            if previous is None:
                raise RuntimeError(f"{table}: an incremental run needs a published table to add to")
            pointer["files"] = previous["files"]
            pointer[OVERLAY] = {"files": written, "batches": list(run.overlay)}
        pointer["sources"] = run.sources[table]
        if table == USERINFO_LINES:
            pointer["consumers"] = run.consumers
        if table == BATCH_USERS and state is not None:
            pointer["state"] = dict(state)
        retired = [*previous.get("retired", ()), _retirement(previous, now)] if previous else []
        expired = [entry for entry in retired if _age(now, entry["at"]) > RETIRED_RUN_GRACE_SECONDS]
        pointer["publishedAt"] = now.isoformat()
        pointer["retired"] = [entry for entry in retired if entry not in expired]
        pending = f"{folder}/{CURRENT_FILES}.{run.token}"
        with lake.filesystem.open_output_stream(pending) as out:
            out.write(json.dumps(pointer, indent=1).encode())
        lake.filesystem.move(pending, f"{folder}/{CURRENT_FILES}")
        lake.forget(table)
        kept = runs_named(pointer).union(*(retired_runs(entry) for entry in pointer["retired"]))
        _delete_unused(lake, folder, kept, set().union(*(retired_runs(entry) for entry in expired)) - kept, now)


def runs_named(pointer: Mapping[str, Any]) -> set[str]:
    """The runs whose folders hold a file the pointer names (its parts, its overlay's, its state)."""
    overlay = pointer.get(OVERLAY) or {}
    state = pointer.get("state") or {}
    recorded = [name for value in state.values() for name in ([value] if isinstance(value, str) else value)]
    names = [*pointer["files"], *overlay.get("files", ()), *recorded]
    return {str(pointer["run"]), *(name.split("/")[1] for name in names if name.startswith(f"{RUNS_DIR}/"))}


def _retirement(previous: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {"run": previous["run"], "runs": sorted(runs_named(previous)), "at": now.isoformat()}


def retired_runs(entry: Mapping[str, Any]) -> set[str]:
    return set(entry.get("runs") or [entry["run"]])


def _age(now: dt.datetime, at: str) -> float:
    return (now - dt.datetime.fromisoformat(at)).total_seconds()


def _delete_unused(lake: Lake, folder: str, kept: set[str], expired: set[str], now: dt.datetime) -> None:
    """Delete the runs no pointer keeps: the expired ones, and those a crashed index left once ORPHAN_AGE_SECONDS
    old (a run still writing is younger); and, once as old as the grace, the files the folder held before it had a
    pointer."""
    infos = lake.filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=True))
    newest: dict[str, float] = {}
    for info in infos:
        relative = info.path[len(folder) + 1 :]
        if info.type != pafs.FileType.File:
            continue
        age = now.timestamp() - (info.mtime_ns or 0) / 1e9
        if relative.startswith(f"{RUNS_DIR}/"):
            token = relative.split("/")[1]
            newest[token] = min(newest.get(token, age), age)
        elif relative.endswith(".parquet") and "/" not in relative and age > RETIRED_RUN_GRACE_SECONDS:
            lake.filesystem.delete_file(info.path)
    for token, age in newest.items():
        if token not in kept and (token in expired or age > ORPHAN_AGE_SECONDS):
            lake.filesystem.delete_dir(f"{folder}/{RUNS_DIR}/{token}")


def discard(lake: Lake, run: IndexRun) -> None:
    """Remove the run's files (what a failed run wrote): no pointer names them."""
    for table in run.sources:
        path = f"{lake.table_dir(table)}/{RUNS_DIR}/{run.token}"
        if lake.filesystem.get_file_info(path).type != pafs.FileType.NotFound:
            lake.filesystem.delete_dir(path)
