"""Finished userinfo-exhaust and response-exhaust lines, written by `exhaust lake index`, used while fresh.

Both datasets depend on consents, which may change between two index runs: a revocation must stop the very next
build. So the lines are an answer the build may take, never one it must: each table records the files of the
tables its lines derive from (as batch_users does, exhaust.lake.extracts) and a build streams them only while
those are the lake's current files (listings, no data read). Otherwise it computes its rows from the tables
(exhaust.builders: "live"), with the same rules (exhaust.lake.userinfo_rows, exhaust.lake.response_rows): what a
build writes is always what a live build would write from the lake's current files.

- `userinfo_lines`: for every batch of a collection that asks for consent and every consumer (org) that has a
  consent event for that collection, the lines of the users whose latest consent to that consumer is ACTIVE.
  The footer records the consumers per collection (`exhaust.consumers`): a consumer not recorded for a
  collection had no consent event there, so while the consents are unchanged its answer is no row.
- `response_lines`: for every batch not retired, the lines of its attempts, registration consents applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa

from exhaust.lake import response_rows, userinfo_rows, values
from exhaust.lake.catalog import BatchInfo, Catalog
from exhaust.lake.directory import COURSE_DIRECTORY, directory_staleness, write_directory
from exhaust.lake.extracts import (
    BATCH_USERS,
    SOURCE_TABLES,
    SOURCES_KEY,
    LakeNotIndexed,
    Snapshot,
    source_snapshot,
    staleness,
    write_batch_users,
)
from exhaust.lake.store import Lake

USERINFO_LINES = "userinfo_lines"
RESPONSE_LINES = "response_lines"
USERINFO_LINE = "userinfo_line"
RESPONSE_LINE = "response_line"
# What each table's lines derive from: a change to any of their files makes the lines stale (absent: recorded
# as no file, so a table that appears later makes them stale too).
USERINFO_SOURCES = ("collections", "batches", "enrolments", "users", "consents")
RESPONSE_SOURCES = ("collections", "batches", "assessment_attempts", "question_types", "registration_consents")
CONSUMERS_KEY = b"exhaust.consumers"
# Every table `exhaust lake index` writes: resources.DERIVED_LAKE_TABLES, which the indexer may write (a test
# keeps the two equal).
DERIVED_TABLES = (BATCH_USERS, USERINFO_LINES, RESPONSE_LINES)
# Rows the index computes at once (as a build's chunk): bounds its memory whatever the batch size.
_PIECE_ROWS = 32_768


@dataclass(frozen=True)
class Stored:
    """Where a build finds its rows in the index: the run of rows of `keys` (possibly none) in `table`, or,
    with `keys` None, why the index cannot answer (`stale`: the build computes its rows live)."""

    table: str
    column: str
    keys: Mapping[str, str] | None
    stale: str = ""


def index_lake(lake: Lake) -> dict[str, int]:
    """(Re)write every derived table (batch_users, then the lines that read it) and the course directory; answer
    their row counts (the directory's: its courses).

    The source files are recorded once, before anything is read: a load during the indexing shows as stale.
    """
    snapshot = source_snapshot(lake, sorted({*SOURCE_TABLES, *USERINFO_SOURCES, *RESPONSE_SOURCES}))
    return {
        BATCH_USERS: write_batch_users(lake, snapshot),
        USERINFO_LINES: write_userinfo_lines(lake, snapshot),
        RESPONSE_LINES: write_response_lines(lake, snapshot),
        COURSE_DIRECTORY: write_directory(lake),
    }


def stale_derived_tables(lake: Lake) -> dict[str, str]:
    """The derived tables that are missing, from an older version or stale, with the reason (empty: all fresh)."""
    found = {table: staleness(lake, table) for table in DERIVED_TABLES}
    return {table: reason for table, reason in found.items() if reason is not None}


def index_if_stale(lake: Lake) -> dict[str, str]:
    """Rewrite the derived tables when any is missing, from an older version or stale; answer which were and why
    (empty: all fresh, and nothing but listings read, or footers when file times changed)."""
    stale = stale_derived_tables(lake)
    if stale:
        index_lake(lake)
        return stale
    # The course directory alone (a lake indexed before it existed, or a load of collections or batches only).
    directory = directory_staleness(lake)
    if directory is not None:
        write_directory(lake)
        return {COURSE_DIRECTORY: directory}
    return stale


def _recorded(snapshot: Snapshot, tables: tuple[str, ...]) -> dict[str, str]:
    return {SOURCES_KEY.decode(): json.dumps({table: snapshot[table] for table in tables})}


def consumers_by_collection(lake: Lake, collection_ids: list[str]) -> dict[str, list[str]]:
    """Each collection's consumers that have at least one consent event for it, sorted."""
    found: dict[str, list[str]] = {collection_id: [] for collection_id in collection_ids}
    if not collection_ids:
        return found
    pairs: set[tuple[str, str]] = set()
    # A record batch at a time: memory holds the distinct pairs, not the events.
    for events in lake.scan("consents", ["collection_id", "consumer_id"], isin={"collection_id": collection_ids}):
        distinct = pa.Table.from_batches([events]).group_by(["collection_id", "consumer_id"]).aggregate([])
        pairs.update(zip(distinct["collection_id"].to_pylist(), distinct["consumer_id"].to_pylist(), strict=True))
    for collection_id, consumer_id in sorted(pairs):
        found[collection_id].append(consumer_id)
    return found


def _pieces(
    lake: Lake, table: str, batch_id: str, columns: tuple[str, ...], dictionary: tuple[str, ...] = ()
) -> Iterator[pa.Table]:
    """The batch's rows of a batch-keyed table, a piece at a time, in the table's order (as a build reads them)."""
    for piece in lake.pieces(table, equals={"batch_id": batch_id}, rows=_PIECE_ROWS):
        batches = list(lake.read_piece(piece, columns, dictionary=dictionary))
        if batches:
            yield pa.Table.from_batches(batches)


def write_userinfo_lines(lake: Lake, snapshot: Snapshot | None = None) -> int:
    """(Re)write userinfo_lines from batch_users and consents; answer its row count.

    The profiles come from batch_users, so the lines record the enrolments and users files batch_users was
    derived from (LakeNotIndexed without them), and the consents files of `snapshot` (taken now if not given).
    """
    consents = (snapshot or source_snapshot(lake, ("consents",)))["consents"]
    recorded = lake.file_metadata(BATCH_USERS).get(SOURCES_KEY)
    if recorded is None:
        raise LakeNotIndexed("is missing or does not record the files it was derived from")
    snapshot = {**json.loads(recorded), "consents": consents}
    batches = sorted(
        (batch for batch in Catalog(lake).batches.values() if batch.requires_consent and not batch.retired),
        key=lambda batch: batch.batch_id,
    )
    consumers = consumers_by_collection(lake, sorted({batch.collection_id for batch in batches}))
    written = 0

    def parts() -> Iterator[pa.Table]:
        nonlocal written
        for batch in batches:
            for consumer_id in consumers[batch.collection_id]:
                for users in _pieces(
                    lake, BATCH_USERS, batch.batch_id, userinfo_rows.PROFILE_COLUMNS, userinfo_rows.DICTIONARY_COLUMNS
                ):
                    columns = userinfo_rows.consenting_columns(lake, batch, consumer_id, users)
                    length = len(columns[0])
                    if length:
                        written += length
                        yield pa.table(
                            {
                                "batch_id": values.constant(batch.batch_id, length),
                                "consumer_id": values.constant(consumer_id, length),
                                "user_id": values.decoded(columns[userinfo_rows.USER_UUID]),
                                USERINFO_LINE: values.csv_lines(columns),
                            }
                        )

    metadata = {**_recorded(snapshot, USERINFO_SOURCES), CONSUMERS_KEY.decode(): json.dumps(consumers)}
    lake.write(USERINFO_LINES, parts(), metadata=metadata)
    return written


def write_response_lines(lake: Lake, snapshot: Snapshot | None = None) -> int:
    """(Re)write response_lines from assessment_attempts and the registration consents; answer its row count."""
    snapshot = snapshot or source_snapshot(lake, RESPONSE_SOURCES)
    batches = sorted(
        (batch for batch in Catalog(lake).batches.values() if not batch.retired), key=lambda batch: batch.batch_id
    )
    needing = response_rows.types_needing_consent(lake)
    written = 0

    def parts() -> Iterator[pa.Table]:
        nonlocal written
        for batch in batches:
            first = 0
            for chunk in _pieces(lake, "assessment_attempts", batch.batch_id, response_rows.ATTEMPT_COLUMNS):
                length = chunk.num_rows
                yield pa.table(
                    {
                        "batch_id": values.constant(batch.batch_id, length),
                        "line_number": pa.array(range(first, first + length), pa.int64()),
                        RESPONSE_LINE: values.csv_lines(response_rows.columns(lake, batch, chunk, needing)),
                    }
                )
                first += length
            written += first

    lake.write(RESPONSE_LINES, parts(), metadata=_recorded(snapshot, RESPONSE_SOURCES))
    return written


def stored_userinfo(lake: Lake, batch: BatchInfo, consumer_id: str) -> Stored:
    """The index's userinfo-exhaust lines of (batch, consumer), if fresh. A consumer without any consent event
    for the collection at index time has no line: its answer is no row (NoDataFound), not a live build."""
    stale = staleness(lake, USERINFO_LINES)
    if stale is None:
        consumers = json.loads(lake.file_metadata(USERINFO_LINES).get(CONSUMERS_KEY, b"{}"))
        if batch.collection_id in consumers:
            return Stored(USERINFO_LINES, USERINFO_LINE, {"batch_id": batch.batch_id, "consumer_id": consumer_id})
        stale = f"holds no line of collection {batch.collection_id}"
    return Stored(USERINFO_LINES, USERINFO_LINE, None, f"{USERINFO_LINES} {stale}")


def stored_response(lake: Lake, batch: BatchInfo) -> Stored:
    """The index's response-exhaust lines of the batch, if fresh (every batch not retired has its lines)."""
    stale = staleness(lake, RESPONSE_LINES)
    if stale is None:
        return Stored(RESPONSE_LINES, RESPONSE_LINE, {"batch_id": batch.batch_id})
    return Stored(RESPONSE_LINES, RESPONSE_LINE, None, f"{RESPONSE_LINES} {stale}")
