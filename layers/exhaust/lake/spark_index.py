"""The lake index as a Spark job: the derived tables of `exhaust lake index`, byte for byte, at platform scale.

    python -m exhaust.lake.spark_index --lake s3://bucket/prefix     (EMR Serverless: the job's entry point)
    exhaust lake index --engine spark --lake DIR|s3://...            (this machine: Spark in local mode)

Spark reads the enrolments, users, attempts and consents (a task per run of row groups, through the lake's
reader), joins enrolments with their users, counts rows per batch (streamed to the driver in batch id order for
the plan of parts: ranges of batch ids, exhaust.lake.index_parts.plan_parts), finds the consumers of each
collection asking for consent, joins each enrolled user's consent events to their batches, and shuffles the rows
by part. Each part's rows reach one Python worker as Arrow data, where `index_part` computes the lines with the
builders' rules and writes the part files of the three tables under `{table}/_runs/{run}/`; the driver points
the tables at them once every part is written. So a task's memory is one part's rows, whatever the lake's size, the
driver's holds no row per enrolment, consent or batch, and the output is what the single process writes (tests
compare the bytes).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from exhaust.lake import index_state, response_rows, schemas
from exhaust.lake.catalog import Catalog
from exhaust.lake.directory import COURSE_DIRECTORY, write_directory
from exhaust.lake.extracts import BATCH_USERS
from exhaust.lake.index_parts import (
    ATTEMPT_COLUMNS,
    ATTEMPTS_SCHEMA,
    CONSENT_EVENTS_SCHEMA,
    DERIVED_TABLES,
    ENROLLED_COLUMNS,
    ENROLLED_SCHEMA,
    EVENT_ORDER,
    EVENT_ORDER_FILE,
    PART_ROWS,
    PROFILE_FIELDS,
    RUNS_DIR,
    USERINFO_LINES,
    IndexRun,
    LakeContractError,
    Part,
    RowGroupWriter,
    check_columns,
    conform,
    discard,
    duplicate_enrolment_message,
    index_part,
    plan_parts,
    plan_parts_in_order,
    publish,
    recorded_sources,
)
from exhaust.lake.index_state import (
    ROW_GROUP_SOURCES,
    USER_DIGESTS_SCHEMA,
    changed_row_groups,
    changed_users,
    earlier_overlay,
    read_parquet,
    recorded_paths,
    recorded_row_groups,
    row_group_digests,
    too_many_changed,
    user_digests,
    within_share,
    write_parquet,
    write_row_groups,
)
from exhaust.lake.materialized import INDEX_SOURCES, REINDEXED_BATCHES, consent_collections_of
from exhaust.lake.schemas import TABLES
from exhaust.lake.store import Lake

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

# The EMR Serverless release the stack runs the job on, and its Spark (pyproject.toml's `spark` extra pins the
# same pyspark). Source: Amazon EMR Serverless User Guide, "EMR Serverless 7.9.0" (Apache Spark 3.5.5),
# https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/release-version-790.html
EMR_RELEASE_LABEL = "emr-7.9.0"
SPARK_VERSION = "3.5.5"
# Rows per run of row groups a reading task decodes; a read of at most NARROW_READ_COLUMNS columns (a batch-keyed
# table's keys) takes NARROW_READ_ROWS: its tasks decode little each, so each task's own cost (about 0.2 s: the
# footer, the Python worker's round trip) would dominate (measured on 10 M enrolments' keys: 7.7 s in 40 tasks,
# 4.3 s in 10).
READ_PIECE_ROWS = 262_144
NARROW_READ_COLUMNS, NARROW_READ_ROWS = 2, 1_048_576
DRIVER_MEMORY = "2g"
_PACKED_SCHEMA = "part int, kind string, payload binary"
_RESULT_SCHEMA = "part int, " + ", ".join(f"{table} long" for table in DERIVED_TABLES)
_ENROLLED, _ATTEMPTS, _CONSENTS = "enrolled", "attempts", "consents"
_EMPTY = {_ENROLLED: ENROLLED_SCHEMA, _ATTEMPTS: ATTEMPTS_SCHEMA, _CONSENTS: CONSENT_EVENTS_SCHEMA}
# The state's profile digests, a file per task, in the run's folder; the changed users' ids, while they are read.
_USER_DIGESTS_DIR, _CHANGED_USERS = "_user_digests", "_changed_users"
# What the job reads of the consents, besides each event's place in the lake (EVENT_ORDER: it breaks ties of time).
_CONSENT_COLUMNS = ("collection_id", "consumer_id", "user_id", "status", "consented_on")


def spark_schema(arrow: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow)


def _table_schema(table: str, columns: list[str], ordered: bool) -> pa.Schema:
    fields = [TABLES[table].schema.field(name) for name in columns]
    return pa.schema(fields + ([pa.field(EVENT_ORDER, pa.int64(), nullable=False)] if ordered else []))


def _row_groups(
    lake_uri: str, descriptors: Iterable[pa.RecordBatch], columns: list[str]
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Each descriptor's row groups read from the lake, as (the first row's EVENT_ORDER, record batch) pairs.

    Consecutive row groups are read by one call: a batch-keyed table has a row group per batch, most of them of a
    few dozen rows, and a call per row group costs about six times the decoding (measured on enrolments)."""
    lake = Lake.open(lake_uri)
    for descriptor in descriptors:
        for row in descriptor.to_pylist():
            with lake.filesystem.open_input_file(row["path"]) as source:
                parquet = pq.ParquetFile(source)
                for indexes, first_row in _consecutive(row["row_groups"], row["first_rows"]):
                    position = row["file"] * EVENT_ORDER_FILE + first_row
                    for batch in parquet.iter_batches(row_groups=indexes, columns=columns):
                        yield position, batch
                        position += batch.num_rows


def _consecutive(row_groups: Sequence[int], first_rows: Sequence[int]) -> Iterator[tuple[list[int], int]]:
    """The row groups as runs of consecutive indexes, each with its first row in the file."""
    run: list[int] = []
    start = 0
    for index, first_row in zip(row_groups, first_rows, strict=True):
        if run and index == run[-1] + 1:
            run.append(index)
            continue
        if run:
            yield run, start
        run, start = [index], first_row
    if run:
        yield run, start


def _reader(
    lake_uri: str, table: str, columns: list[str], ordered: bool, isin: Mapping[str, Sequence[str]] | None
) -> Any:
    """A mapInArrow function: each (path, row_groups, file, first_rows) row read from the lake as record batches;
    `ordered`: with each row's EVENT_ORDER (its file's number in name order, its row in the file); `isin`: only
    the rows holding those values."""
    wanted = {name: pa.array(sorted(values), pa.string()) for name, values in (isin or {}).items()}

    def read(descriptors: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark.sql.pandas.types import to_arrow_schema

        target = to_arrow_schema(spark_schema(_table_schema(table, columns, ordered)))
        read_columns = list(dict.fromkeys([*columns, *wanted]))
        for position, batch in _row_groups(lake_uri, descriptors, read_columns):
            arrays = [batch.column(name).cast(target.field(name).type) for name in columns]
            if ordered:
                arrays.append(pa.array(range(position, position + batch.num_rows), pa.int64()))
            found = pa.RecordBatch.from_arrays(arrays, schema=target)
            for name, values in wanted.items():
                holding = pc.is_in(batch.column(name), value_set=values)
                found, batch = found.filter(holding), batch.filter(holding)
            if found.num_rows:
                yield found

    return read


_DESCRIPTOR_SCHEMA = "path string, row_groups array<int>, file int, first_rows array<long>"


def _descriptors(
    spark: SparkSession,
    lake: Lake,
    table: str,
    isin: Mapping[str, Sequence[str]] | None = None,
    piece_rows: int | None = None,
) -> DataFrame:
    """`_read_tasks` as a DataFrame, a partition per task."""
    tasks = _read_tasks(lake, table, isin, piece_rows)
    return spark.createDataFrame(spark.sparkContext.parallelize(tasks, max(len(tasks), 1)), _DESCRIPTOR_SCHEMA)


def _read_tasks(
    lake: Lake,
    table: str,
    isin: Mapping[str, Sequence[str]] | None = None,
    piece_rows: int | None = None,
) -> list[tuple[str, list[int], int, list[int]]]:
    """What each task reads of the table (path, row groups, file number, their first rows): about `piece_rows`
    (READ_PIECE_ROWS) rows of one file (a task parses its file's footer once, however many row groups it reads:
    scattered row groups, a few batches', are one task per file, not one per row group); `isin`: only the row
    groups whose statistics may hold those values of the table's leading key (the statistics of another column
    span most of its values in each row group: testing them only breaks the runs of row groups read by one
    call)."""
    piece_rows = piece_rows or READ_PIECE_ROWS
    leading = TABLES[table].sort_key[0]
    isin = {name: values for name, values in (isin or {}).items() if name == leading}
    files = {path: (number, metadata) for number, (path, metadata) in enumerate(lake.files(table))}
    starts = {path: _row_starts(metadata) for path, (_, metadata) in files.items()}
    tasks: list[tuple[str, list[int], int, list[int]]] = []
    rows = 0
    for piece in lake.pieces(table, rows=piece_rows, isin=isin):
        if not piece.rows:
            continue
        if not tasks or tasks[-1][0] != piece.path or rows + piece.rows > piece_rows:
            tasks.append((piece.path, [], files[piece.path][0], []))
            rows = 0
        tasks[-1][1].extend(piece.row_groups)
        tasks[-1][3].extend(starts[piece.path][index] for index in piece.row_groups)
        rows += piece.rows
    return tasks


def read_table(
    spark: SparkSession,
    lake: Lake,
    lake_uri: str,
    table: str,
    columns: tuple[str, ...],
    *,
    ordered: bool = False,
    isin: Mapping[str, Sequence[str]] | None = None,
) -> DataFrame:
    """The table's columns as a DataFrame, read by Python tasks (`_descriptors`), without a shuffle (`ordered`:
    with EVENT_ORDER, the order the single process reads the rows in; `isin`: only the rows holding those
    values, from the row groups whose statistics may hold them)."""
    schema = spark_schema(_table_schema(table, list(columns), ordered))
    narrow = len({*columns, *(isin or {})}) <= NARROW_READ_COLUMNS
    return _descriptors(spark, lake, table, isin, NARROW_READ_ROWS if narrow else READ_PIECE_ROWS).mapInArrow(
        _reader(lake_uri, table, list(columns), ordered, isin), schema
    )


def read_user_digests(spark: SparkSession, lake: Lake, lake_uri: str) -> DataFrame:
    """Every user's profile digest (user_id, digest), computed where the users are read: the profiles never
    reach the JVM for it."""

    def digest(descriptors: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        out = pa.schema([("user_id", pa.string()), ("digest", pa.binary())])
        for _, batch in _row_groups(lake_uri, descriptors, list(schemas.USERS.names)):
            yield from user_digests(conform(pa.Table.from_batches([batch]), schemas.USERS)).cast(out).to_batches()

    return _descriptors(spark, lake, "users").mapInArrow(digest, _USER_DIGESTS_SCHEMA)


def user_digest_state(
    spark: SparkSession, lake: Lake, lake_uri: str, folder: str, run_dir: str, previous: Sequence[str] | None
) -> tuple[list[str], list[str] | None]:
    """Write every user's profile digest under the run's folder (the next run's state); answer the files' names in
    the table's folder and, against the `previous` run's files, the users whose digest changed, appeared or went
    (None: no previous files, or more than MAX_CHANGED_USERS changed: a full run).

    Users sorted across their files, as the contract has them (each row group's least id above the previous one's
    greatest), are compared where they are read: each task takes a range of ids, reads the recorded digests of
    that range and compares them by index_state.changed_users, so no digest reaches the JVM. Other users are
    compared by a Spark join (`joined_user_digest_state`), which answers the same."""
    tasks = _read_tasks(lake, "users")
    lows = _sorted_lows(lake, tasks)
    if lows is None:
        return joined_user_digest_state(spark, lake, lake_uri, folder, run_dir, previous)
    try:
        recorded = _recorded_digest_row_groups(lake, folder, previous or [])
    except (OSError, pa.ArrowInvalid):  # the recorded digests cannot be read: nothing to compare with, a full run
        recorded, previous = [], None
    rows = []
    for number, (task, low) in enumerate(zip(tasks, lows, strict=True)):
        high = lows[number + 1] if number + 1 < len(lows) else None
        within = [
            [name, [index for index, (least, greatest) in enumerate(bounds) if _overlaps(least, greatest, low, high)]]
            for name, bounds in recorded
        ]
        within = [entry for entry in within if entry[1]]
        rows.append((*task, number, None if number == 0 else low, high, json.dumps(within)))
    schema = f"{_DESCRIPTOR_SCHEMA}, task int, low string, high string, recorded string"
    descriptors = spark.createDataFrame(spark.sparkContext.parallelize(rows, len(rows)), schema)
    compare = previous is not None
    written = descriptors.mapInArrow(
        _compared_digests(lake_uri, folder, run_dir, compare), "name string, changed long"
    ).collect()
    files = sorted(row["name"] for row in written)
    changed_folder = f"{folder}/{run_dir}/{_CHANGED_USERS}"
    try:
        if not compare or too_many_changed(sum(row["changed"] for row in written)):
            return files, None
        changed = [read_parquet(lake, info.path) for info in _listed(lake, changed_folder)]
        return files, sorted(pa.concat_tables(changed)["user_id"].to_pylist()) if changed else []
    finally:
        if lake.filesystem.get_file_info(changed_folder).type != pafs.FileType.NotFound:
            lake.filesystem.delete_dir(changed_folder)


def _sorted_lows(lake: Lake, tasks: Sequence[tuple[str, list[int], int, list[int]]]) -> list[str] | None:
    """Each task's least user id when the users are sorted across the tasks (each row group's least id above the
    previous one's greatest, by their statistics); None when they are not, or unknown, or there is no task."""
    footers = dict(lake.files("users"))
    lows: list[str] = []
    greatest: str | None = None
    for path, row_groups, _, _ in tasks:
        metadata = footers[path]
        position = metadata.schema.to_arrow_schema().get_field_index("user_id")
        for order, index in enumerate(row_groups):
            statistics = metadata.row_group(index).column(position).statistics
            if statistics is None or not statistics.has_min_max:
                return None
            if greatest is not None and statistics.min <= greatest:
                return None
            if order == 0:
                lows.append(statistics.min)
            greatest = statistics.max
    return lows or None


def _recorded_digest_row_groups(
    lake: Lake, folder: str, names: Sequence[str]
) -> list[tuple[str, list[tuple[str | None, str | None]]]]:
    """Each recorded digest file with its row groups' (least, greatest) user ids (None when unknown)."""
    found = []
    for name in names:
        with lake.filesystem.open_input_file(f"{folder}/{name}") as source:
            metadata = pq.ParquetFile(source).metadata
        bounds = []
        for index in range(metadata.num_row_groups):
            statistics = metadata.row_group(index).column(0).statistics
            known = statistics is not None and statistics.has_min_max
            bounds.append((statistics.min if known else None, statistics.max if known else None))
        found.append((name, bounds))
    return found


def _overlaps(least: str | None, greatest: str | None, low: str | None, high: str | None) -> bool:
    """Whether a row group of ids in [least, greatest] (None: unknown) may hold ids in [low, high)."""
    if least is None or greatest is None:
        return True
    return (low is None or greatest >= low) and (high is None or least < high)


def _compared_digests(lake_uri: str, folder: str, run_dir: str, compare: bool) -> Any:
    """A mapInArrow function: each task's users digested and written as a state file; with `compare`, their digests
    compared with the recorded ones of the task's range of ids, the changed ids written for the driver (when no
    more than MAX_CHANGED_USERS). One row out per task: the file's name and how many users changed."""

    def run(descriptors: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        lake = Lake.open(lake_uri)
        for descriptor in descriptors:
            for row in descriptor.to_pylist():
                one = pa.RecordBatch.from_pylist([row])
                batches = [batch for _, batch in _row_groups(lake_uri, [one], list(schemas.USERS.names))]
                users = conform(pa.Table.from_batches(batches), schemas.USERS)
                current = user_digests(users)
                name = f"{run_dir}/{_USER_DIGESTS_DIR}/part-{row['task']:05d}.parquet"
                write_parquet(lake, f"{folder}/{name}", current)
                count = 0
                if compare:
                    changed = changed_users(_recorded_within(lake, folder, row), current)
                    count = len(changed)
                    if count > 0 and not too_many_changed(count):
                        ids = f"{folder}/{run_dir}/{_CHANGED_USERS}/part-{row['task']:05d}.parquet"
                        write_parquet(lake, ids, pa.table({"user_id": changed}))
                yield pa.record_batch([pa.array([name]), pa.array([count], pa.int64())], names=["name", "changed"])

    return run


def _recorded_within(lake: Lake, folder: str, row: Mapping[str, Any]) -> pa.Table:
    """The recorded digests of the users in the task's range [low, high) (None: open)."""
    tables = []
    for name, row_groups in json.loads(row["recorded"]):
        with lake.filesystem.open_input_file(f"{folder}/{name}") as source:
            tables.append(pq.ParquetFile(source).read_row_groups(row_groups).cast(USER_DIGESTS_SCHEMA))
    found = pa.concat_tables(tables) if tables else USER_DIGESTS_SCHEMA.empty_table()
    ids = found["user_id"]
    inside = pc.and_(
        pc.greater_equal(ids, row["low"]) if row["low"] is not None else pc.is_valid(ids),
        pc.less(ids, row["high"]) if row["high"] is not None else pc.is_valid(ids),
    )
    return found.filter(inside)


def _listed(lake: Lake, folder: str) -> list[pafs.FileInfo]:
    selector = pafs.FileSelector(folder, allow_not_found=True)
    return sorted(lake.filesystem.get_file_info(selector), key=lambda info: info.path)


def joined_user_digest_state(
    spark: SparkSession, lake: Lake, lake_uri: str, folder: str, run_dir: str, previous: Sequence[str] | None
) -> tuple[list[str], list[str] | None]:
    """`user_digest_state` for users in any order: the digests kept by Spark (spilling to disk), joined with the
    recorded ones, then written a file per task."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    digests = read_user_digests(spark, lake, lake_uri).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        changed = None
        if previous is not None:
            paths = [f"{folder}/{name}" for name in previous]
            differing = (
                read_files(spark, lake, lake_uri, paths)
                .withColumnRenamed("digest", "before")
                .join(digests, "user_id", "full_outer")
                .where(~F.col("before").eqNullSafe(F.col("digest")))
                .select("user_id")
            )
            ids = [row["user_id"] for row in differing.limit(index_state.MAX_CHANGED_USERS + 1).collect()]
            changed = None if too_many_changed(len(ids)) else sorted(ids)
        return _write_user_digests(digests, lake_uri, folder, run_dir), changed
    finally:
        digests.unpersist()


def _row_starts(metadata: pq.FileMetaData) -> list[int]:
    """Each row group's first row in its file."""
    sizes = (metadata.row_group(index).num_rows for index in range(metadata.num_row_groups))
    return list(itertools.accumulate(sizes, initial=0))


def _packer(kind: str, columns: list[str], run: IndexRun) -> Any:
    """A mapInArrow function: each record batch's rows grouped by part (the run's part of their batch id), as Arrow
    IPC payloads (exact types)."""

    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            table = pa.Table.from_batches([batch])
            batch_ids = table["batch_id"]
            distinct = pc.unique(batch_ids)
            numbers = pa.array(run.part_of(distinct.to_pylist()), pa.int32())
            table = table.append_column("part", numbers.take(pc.index_in(batch_ids, value_set=distinct)))
            for part in pc.unique(table["part"]).to_pylist():
                rows = table.filter(pc.equal(table["part"], part)).select(columns)
                sink = io.BytesIO()
                with pa.ipc.new_stream(sink, rows.schema) as writer:
                    writer.write_table(rows)
                yield pa.record_batch(
                    [pa.array([part], pa.int32()), pa.array([kind]), pa.array([sink.getvalue()], pa.binary())],
                    names=["part", "kind", "payload"],
                )

    return pack


@cache
def _lake_context(lake_uri: str, token: str) -> tuple[Lake, pa.Array]:
    """What a worker reads once per run (the run's token keys the cache): the lake and the question types needing
    consent. The catalog is read per part (its batches and their courses), so it does not grow with the lake."""
    lake = Lake.open(lake_uri)
    return lake, response_rows.types_needing_consent(lake)


def _part_writer(lake_uri: str, run: IndexRun) -> Any:
    """An applyInPandas function: one part's payloads in, its three part files written, its row counts out."""

    def write(group: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        number = int(group["part"].iloc[0])
        tables: dict[str, list[pa.Table]] = {kind: [] for kind in _EMPTY}
        for kind, payload in zip(group["kind"], group["payload"], strict=True):
            tables[kind].append(pa.ipc.open_stream(payload).read_all())
        del group
        enrolled, attempts, consents = (_concat(tables[kind], kind) for kind in _EMPTY)
        lake, needing = _lake_context(lake_uri, run.token)
        part = run.parts[number]
        catalog = Catalog(lake, batch_range=(part.first, part.last))
        counts = index_part(lake, catalog, needing, run, part, enrolled, attempts, consents)
        return pd.DataFrame([{"part": number, **{table: counts.get(table, 0) for table in DERIVED_TABLES}}])

    return write


def _concat(tables: list[pa.Table], kind: str) -> pa.Table:
    return pa.concat_tables(tables) if tables else _EMPTY[kind].empty_table()


def index_lake_with_spark(
    spark: SparkSession, lake_uri: str, *, part_rows: int = PART_ROWS, full: bool = False
) -> dict[str, int]:
    """(Re)write the lake's derived tables with Spark; answer their row counts (as exhaust lake index does).

    Incremental unless `full`, by the single process's rules (exhaust.lake.index_state), the digests computed and
    compared by Spark: only the touched batches' row groups of enrolments and attempts are read past their keys,
    and only their rows shuffled. Refuses a lake breaking the contract (LakeContractError) before anything is
    written; a failure of any task leaves the previous derived tables in place (the staged parts are discarded).
    """
    lake = Lake.open(lake_uri)
    snapshot = source_snapshot_of(lake)
    check_columns(lake)
    recorded = None if full else recorded_paths(lake)
    folder = lake.table_dir(BATCH_USERS)
    previous_row_groups = _recorded_row_groups(lake, recorded, folder)
    row_groups = row_group_digests(lake, snapshot, previous_row_groups)
    token = uuid.uuid4().hex  # the run's, known first: its folder receives the profile digests as they are made
    run_dir = f"{RUNS_DIR}/{token}"
    persisted: list[DataFrame] = []
    run: IndexRun | None = None
    try:
        comparing = None if recorded is None or previous_row_groups is None else list(recorded["users"])
        user_files, changed = user_digest_state(spark, lake, lake_uri, folder, run_dir, comparing)
        inputs = None
        if comparing is not None and changed is not None:
            changes = _Changes(spark, lake, lake_uri, changed)
            inputs = changes.inputs(snapshot, previous_row_groups, row_groups, part_rows)
        if inputs is None:
            inputs = _full_inputs(spark, lake, lake_uri, part_rows)
        persisted += inputs.persisted
        run = IndexRun(inputs.parts, recorded_sources(snapshot), inputs.consumers, token, overlay=inputs.overlay)
        # Profiles of unknown users stay null (a row with only its ids), as in the single process.
        enrolled = inputs.enrolments.join(inputs.users, "user_id", "left")
        events = _consent_events(lake, spark, lake_uri, inputs.enrolments, inputs.consents, inputs.asking)
        packed = (
            enrolled.mapInArrow(_packer(_ENROLLED, list(ENROLLED_COLUMNS + PROFILE_FIELDS), run), _PACKED_SCHEMA)
            .unionByName(inputs.attempts.mapInArrow(_packer(_ATTEMPTS, list(ATTEMPT_COLUMNS), run), _PACKED_SCHEMA))
            .unionByName(events.mapInArrow(_packer(_CONSENTS, CONSENT_EVENTS_SCHEMA.names, run), _PACKED_SCHEMA))
        )
        written = packed.groupBy("part").applyInPandas(_part_writer(lake_uri, run), _RESULT_SCHEMA).collect()
        missing = {part.number for part in run.parts} - {row["part"] for row in written}
        if missing and run.overlay is None:
            raise RuntimeError(f"the job wrote {len(written)} of {len(run.parts)} parts")
        # An overlay part may hold no row (its batches' rows all went): its empty files are written here.
        _write_empty_parts(lake, run, missing)
        state = {"users": user_files, "rowGroups": write_row_groups(lake, row_groups, folder, run_dir)}
        publish(lake, run, state=state)
    except BaseException:
        if run is not None:
            discard(lake, run)
        if lake.filesystem.get_file_info(f"{folder}/{run_dir}").type != pafs.FileType.NotFound:
            lake.filesystem.delete_dir(f"{folder}/{run_dir}")
        raise
    finally:
        for frame in persisted:
            frame.unpersist()
    counts = {table: sum(row[table] for row in written) for table in DERIVED_TABLES}
    if run.overlay is not None:
        counts[REINDEXED_BATCHES] = len(run.overlay)
    else:  # the course directory, as the single process writes it after a full index (exhaust.lake.directory)
        counts[COURSE_DIRECTORY] = write_directory(lake)
    return counts


@dataclass(frozen=True)
class _Inputs:
    """What the parts are made of: the rows to shuffle, the plan, and (incremental) the overlay's batches."""

    enrolments: DataFrame
    users: DataFrame
    attempts: DataFrame
    consents: DataFrame
    asking: DataFrame
    consumers: Mapping[str, Sequence[str]]
    parts: tuple[Part, ...]
    overlay: tuple[str, ...] | None
    persisted: list[DataFrame]


def _full_inputs(spark: SparkSession, lake: Lake, lake_uri: str, part_rows: int) -> _Inputs:
    """Every row of enrolments, attempts and consents; the plan of parts over every batch."""
    from pyspark import StorageLevel

    enrolments = read_table(spark, lake, lake_uri, "enrolments", ENROLLED_COLUMNS)
    attempts = read_table(spark, lake, lake_uri, "assessment_attempts", ATTEMPT_COLUMNS)
    consents = read_table(spark, lake, lake_uri, "consents", _CONSENT_COLUMNS, ordered=True)
    # Read once for the counts (the consumers) and once more for the parts.
    persisted = [frame.persist(StorageLevel.MEMORY_AND_DISK) for frame in (enrolments, attempts, consents)]
    enrolments, attempts, consents = persisted
    rows = _rows_by_batch(enrolments, attempts)
    collections = consent_collections_of(lake)
    asking = spark.createDataFrame([(name,) for name in collections], "collection_id string")
    consumers = _consumers_by_collection(consents, asking, collections)
    # Streamed to the plan a partition at a time: the driver holds the parts, not a row per batch.
    ordered = rows.orderBy("batch_id").toLocalIterator()
    planned = plan_parts_in_order(((row["batch_id"], row["rows"]) for row in ordered), part_rows)
    users = read_table(spark, lake, lake_uri, "users", ("user_id", *PROFILE_FIELDS))
    return _Inputs(enrolments, users, attempts, consents, asking, consumers, planned, None, persisted)


_USER_DIGESTS_SCHEMA = "user_id string, digest binary"


def _recorded_row_groups(lake: Lake, recorded: Mapping[str, Any] | None, folder: str) -> pa.Table | None:
    if recorded is None:
        return None
    try:
        return recorded_row_groups(lake, recorded, folder)
    except (OSError, pa.ArrowInvalid, KeyError):
        return None


class _Changes:
    """The batches a load touched, found as the single process finds them from the changed row groups and the
    changed users (`user_digest_state`); then only their rows are read and shuffled."""

    def __init__(self, spark: SparkSession, lake: Lake, lake_uri: str, changed_users: Sequence[str]):
        self.spark, self.lake, self.lake_uri, self.changed_users = spark, lake, lake_uri, changed_users

    def inputs(
        self, snapshot: Mapping[str, Any], previous_row_groups: pa.Table, row_groups: pa.Table, part_rows: int
    ) -> _Inputs | None:
        """The overlay's inputs, or None when only a full index is right (index_state's rules)."""
        from pyspark.sql import functions as F

        earlier = earlier_overlay(self.lake, snapshot)
        bounds = changed_row_groups(previous_row_groups, row_groups)
        if earlier is None or any(low is None or high is None for low, high in bounds):
            return None
        known = [(str(low), str(high)) for low, high in bounds]
        touched = {bound for pair in known for bound in pair}
        wide = [F.col("batch_id").between(low, high) for low, high in known if low != high]
        if wide:  # row groups of several batches (a lake off the contract): every batch id in their bounds
            condition = wide[0]
            for other in wide[1:]:
                condition = condition | other
            batch_ids = read_table(self.spark, self.lake, self.lake_uri, "enrolments", ("batch_id",))
            touched.update(row["batch_id"] for row in batch_ids.where(condition).distinct().collect())
        if self.changed_users:  # their enrolments, filtered where they are read: only those reach the JVM
            holding = {"user_id": list(self.changed_users)}
            moved = read_table(
                self.spark, self.lake, self.lake_uri, "enrolments", ("batch_id", "user_id"), isin=holding
            )
            touched.update(row["batch_id"] for row in moved.select("batch_id").distinct().collect())
        overlay = sorted({*earlier, *touched})
        return self._read(overlay, part_rows)

    def _read(self, overlay: list[str], part_rows: int) -> _Inputs | None:
        """The overlay's rows: only the row groups the footers' statistics hold its batches in are read."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        wanted = F.broadcast(self.spark.createDataFrame([(batch_id,) for batch_id in overlay], "batch_id string"))
        within = {"batch_id": overlay}
        enrolments = read_table(self.spark, self.lake, self.lake_uri, "enrolments", ENROLLED_COLUMNS, isin=within).join(
            wanted, "batch_id"
        )
        attempts = read_table(
            self.spark, self.lake, self.lake_uri, "assessment_attempts", ATTEMPT_COLUMNS, isin=within
        ).join(wanted, "batch_id")
        # Read for the counts and again for the parts: kept meanwhile.
        persisted = [frame.persist(StorageLevel.MEMORY_AND_DISK) for frame in (enrolments, attempts)]
        enrolments, attempts = persisted
        rows = {row["batch_id"]: row["rows"] for row in _rows_by_batch(enrolments, attempts).collect()}
        total = sum(metadata.num_rows for table in ROW_GROUP_SOURCES for _, metadata in self.lake.files(table))
        if not within_share(overlay, rows, total):
            for frame in persisted:
                frame.unpersist()
            return None
        # The consents are unchanged since the previous run (else it would be a full one): its consumers hold, and
        # only the events of the overlay's collections asking for consent are read.
        consumers = (self.lake.pointer(USERINFO_LINES) or {})["consumers"]
        collections = sorted(consumers)
        batches = read_table(self.spark, self.lake, self.lake_uri, "batches", ("batch_id", "collection_id"))
        overlaid = sorted(
            {row["collection_id"] for row in batches.join(wanted, "batch_id").collect()}.intersection(collections)
        )
        consents = read_table(
            self.spark,
            self.lake,
            self.lake_uri,
            "consents",
            _CONSENT_COLUMNS,
            ordered=True,
            isin={"collection_id": overlaid},
        )
        asking = self.spark.createDataFrame([(name,) for name in overlaid], "collection_id string")
        parts = plan_parts({batch_id: rows.get(batch_id, 0) for batch_id in overlay}, part_rows)
        # The profiles of the overlay's users alone reach the JVM (the users' files are read for them).
        enrolled = sorted(row["user_id"] for row in enrolments.select("user_id").distinct().collect())
        users = read_table(
            self.spark, self.lake, self.lake_uri, "users", ("user_id", *PROFILE_FIELDS), isin={"user_id": enrolled}
        )
        return _Inputs(enrolments, users, attempts, consents, asking, consumers, parts, tuple(overlay), persisted)


def read_files(spark: SparkSession, lake: Lake, lake_uri: str, paths: list[str]) -> DataFrame:
    """Profile digest files (USER_DIGESTS_SCHEMA) as a DataFrame, a Spark task per file."""
    rows = spark.sparkContext.parallelize([(path,) for path in paths], max(len(paths), 1))
    descriptors = spark.createDataFrame(rows, "path string")

    def read(found: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        reader_lake = Lake.open(lake_uri)
        target = pa.schema([("user_id", pa.string()), ("digest", pa.binary())])
        for descriptor in found:
            for path in descriptor.column("path").to_pylist():
                with reader_lake.filesystem.open_input_file(path) as source:
                    for batch in pq.ParquetFile(source).iter_batches():
                        yield pa.Table.from_batches([batch]).cast(target).combine_chunks().to_batches()[0]

    return descriptors.mapInArrow(read, _USER_DIGESTS_SCHEMA)


def _write_user_digests(digests: DataFrame, lake_uri: str, folder: str, run_dir: str) -> list[str]:
    """Each task's profile digests as one file of the run's folder (USER_DIGESTS_SCHEMA); answer their names in the
    table's folder."""

    def write(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        tables = [pa.Table.from_batches([batch]) for batch in batches]
        if not tables:
            return
        found = pa.concat_tables(tables).cast(USER_DIGESTS_SCHEMA).sort_by("user_id")
        context = TaskContext.get()
        name = f"{run_dir}/{_USER_DIGESTS_DIR}/part-{context.partitionId() if context else 0:05d}.parquet"
        write_parquet(Lake.open(lake_uri), f"{folder}/{name}", found)
        yield pa.record_batch([pa.array([name])], names=["name"])

    return sorted(row["name"] for row in digests.mapInArrow(write, "name string").collect())


def _write_empty_parts(lake: Lake, run: IndexRun, missing: set[int]) -> None:
    """Write the empty files of the parts that received no row."""
    for number in sorted(missing):
        for table in run.sources:
            RowGroupWriter(lake.filesystem, run.staged(lake.root, table, number), TABLES[table], {}).close()


def _consumers_by_collection(consents: DataFrame, asking: DataFrame, collections: list[str]) -> dict[str, list[str]]:
    """Each collection asking for consent (`collections`, also as the DataFrame `asking`) with its consumers that
    have at least one consent event for it, sorted (exhaust.lake.materialized.consumers_by_collection's answer):
    Spark finds the distinct pairs, the driver receives only those."""
    from pyspark.sql import functions as F

    found: dict[str, list[str]] = {collection_id: [] for collection_id in collections}
    pairs = consents.join(F.broadcast(asking), "collection_id").select("collection_id", "consumer_id").distinct()
    for collection_id, consumer_id in sorted((row["collection_id"], row["consumer_id"]) for row in pairs.collect()):
        found[collection_id].append(consumer_id)
    return found


def _consent_events(
    lake: Lake, spark: SparkSession, lake_uri: str, enrolments: DataFrame, consents: DataFrame, asking: DataFrame
) -> DataFrame:
    """Each consent event of a user enrolled in a batch of a collection asking for consent, with that batch's id
    (CONSENT_EVENTS_SCHEMA): what the part's userinfo rules read, joined by Spark rather than read per batch."""
    from pyspark.sql import functions as F

    batches = read_table(spark, lake, lake_uri, "batches", ("batch_id", "collection_id"))
    enrolled = enrolments.select("batch_id", "user_id").join(
        batches.join(F.broadcast(asking), "collection_id"), "batch_id"
    )
    return enrolled.join(consents, ["collection_id", "user_id"]).select(*CONSENT_EVENTS_SCHEMA.names)


def _rows_by_batch(enrolments: DataFrame, attempts: DataFrame) -> DataFrame:
    """Enrolment and attempt rows per batch (batch_id, rows), once no enrolment is listed twice (refused by its
    first in key order)."""
    from pyspark.sql import functions as F

    repeated = enrolments.groupBy("batch_id", "user_id").count().where(F.col("count") > 1)
    first = repeated.orderBy("batch_id", "user_id").first()
    if first is not None:
        raise LakeContractError(duplicate_enrolment_message(first["batch_id"], first["user_id"]))
    batch_ids = enrolments.select("batch_id").unionByName(attempts.select("batch_id"))
    return batch_ids.groupBy("batch_id").agg(F.count(F.lit(1)).alias("rows"))


def source_snapshot_of(lake: Lake) -> dict[str, Any]:
    from exhaust.lake.extracts import source_snapshot

    return source_snapshot(lake, INDEX_SOURCES)


def local_session(cores: int | None = None) -> SparkSession:
    """A Spark session on this machine (local mode), its Python workers running this interpreter."""
    import os

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{cores or '*'}]")
        .appName("exhaust-lake-index")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Local mode runs the tasks in the driver's JVM: room for a part's shuffled rows (spilled beyond it).
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(2 * (cores or os.cpu_count() or 2), 2)))
        .getOrCreate()
    )


def main(argv: list[str] | None = None) -> int:
    """The job's entry point: index the lake at --lake; print the row counts and seconds as JSON."""
    parser = argparse.ArgumentParser(prog="python -m exhaust.lake.spark_index", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, help="the lake root: s3://bucket/prefix or a directory")
    parser.add_argument("--part-rows", type=int, default=PART_ROWS, help=f"rows per part file ({PART_ROWS:,})")
    parser.add_argument("--full", action="store_true", help="index every batch, not only those a load touched")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    # Under spark-submit (EMR Serverless) the session is configured by the job run; alone, Spark runs locally.
    spark = SparkSession.builder.appName("exhaust-lake-index").config("spark.sql.session.timeZone", "UTC").getOrCreate()
    started = time.monotonic()
    try:
        rows = index_lake_with_spark(spark, args.lake, part_rows=args.part_rows, full=args.full)
    except LakeContractError as refused:
        print(json.dumps({"lake": args.lake, "refused": str(refused)}), file=sys.stderr)
        return 2
    finally:
        spark.stop()
    print(json.dumps({"lake": args.lake, "engine": "spark", **rows, "seconds": round(time.monotonic() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
