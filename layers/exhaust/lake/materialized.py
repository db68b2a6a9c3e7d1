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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.lake import response_rows, userinfo_rows
from exhaust.lake.catalog import BatchInfo, Catalog
from exhaust.lake.directory import COURSE_DIRECTORY, directory_staleness, write_directory
from exhaust.lake.extracts import (
    BATCH_USERS,
    SOURCE_TABLES,
    LakeNotIndexed,
    Snapshot,
    source_snapshot,
    staleness,
)
from exhaust.lake.index_parts import (
    ATTEMPT_COLUMNS,
    DERIVED_TABLES,
    ENROLLED_COLUMNS,
    PROFILE_FIELDS,
    RESPONSE_LINE,
    RESPONSE_LINES,
    RESPONSE_SOURCES,
    RUNS_DIR,
    USERINFO_LINE,
    USERINFO_LINES,
    USERINFO_SOURCES,
    IndexRun,
    Part,
    RowGroupWriter,
    check_columns,
    check_no_duplicate_enrolment,
    discard,
    index_part,
    plan_parts,
    publish,
    recorded_sources,
    rows_by_batch,
    userinfo_rows_of,
)
from exhaust.lake.index_parts import PART_ROWS as PART_ROWS
from exhaust.lake.index_state import IndexState, incremental_overlay, recorded_state, row_group_digests, user_digests
from exhaust.lake.schemas import RETIRED, TABLES
from exhaust.lake.store import Lake

__all__ = ["DERIVED_TABLES", "RESPONSE_LINE", "RESPONSE_LINES", "USERINFO_LINE", "USERINFO_LINES"]
# Every source table the index reads, recorded once before reading.
INDEX_SOURCES = tuple(sorted({*SOURCE_TABLES, *USERINFO_SOURCES, *RESPONSE_SOURCES}))
# What an incremental run's counts add: how many batches it indexed again.
REINDEXED_BATCHES = "reindexed_batches"
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


def index_lake(
    lake: Lake, *, part_rows: int = PART_ROWS, tables: tuple[str, ...] = DERIVED_TABLES, full: bool = False
) -> dict[str, int]:
    """(Re)write the derived `tables` in this process, a part (a range of batches) at a time, and after a full
    index the course directory; answer their row counts (the directory's: its courses; REINDEXED_BATCHES after an
    incremental run). The Spark job (exhaust.lake.spark_index) writes the same bytes from the same `index_part`.

    Incremental unless `full`: when the previous run recorded its state and only enrolments, users and attempts
    changed, only the batches they touch are indexed again (exhaust.lake.index_state, `incremental_overlay`).
    The source files are recorded once, before anything is read: a load during the indexing shows as stale. A
    lake breaking the contract is refused (LakeContractError) before anything is written; the new tables
    replace the previous ones only once every part is written.
    """
    snapshot = source_snapshot(lake, INDEX_SOURCES)
    check_columns(lake)
    keys = lake.read("enrolments", ["batch_id", "user_id"])
    check_no_duplicate_enrolment(keys)
    catalog = Catalog(lake)
    consumers = consumers_by_collection(lake, consent_collections(catalog))
    rows = rows_by_batch(keys["batch_id"], lake.read("assessment_attempts", ["batch_id"])["batch_id"])
    users = lake.read("users")
    state = None
    overlay: tuple[str, ...] | None = None
    if tables == DERIVED_TABLES:
        previous = recorded_state(lake)
        # The row groups' digests before any row is read: a load meanwhile shows as a change next time.
        state = IndexState(user_digests(users), row_group_digests(lake, snapshot, previous and previous.row_groups))
        if not full and previous is not None:
            overlay = incremental_overlay(lake, snapshot, previous, state, keys, rows)
    del keys
    weighed = rows if overlay is None else {batch_id: rows.get(batch_id, 0) for batch_id in overlay}
    planned = plan_parts(weighed, part_rows)
    run = IndexRun(planned, recorded_sources(snapshot, tables), consumers, overlay=overlay)
    needing = response_rows.types_needing_consent(lake)
    counts = dict.fromkeys(tables, 0)
    try:
        for part in run.parts:
            wanted = _part_rows_wanted(part, overlay)
            enrolled = lake.read("enrolments", ENROLLED_COLUMNS, **wanted)
            profiles = users.take(pc.index_in(enrolled["user_id"], value_set=users["user_id"].combine_chunks()))
            for name in PROFILE_FIELDS:
                enrolled = enrolled.append_column(name, profiles[name])
            attempts = lake.read("assessment_attempts", ATTEMPT_COLUMNS, **wanted)
            for table, written in index_part(lake, catalog, needing, run, part, enrolled, attempts).items():
                counts[table] += written
        recorded = None if state is None else state.write(lake, lake.table_dir(BATCH_USERS), f"{RUNS_DIR}/{run.token}")
        publish(lake, run, state=recorded)
    except BaseException:
        discard(lake, run)
        raise
    if overlay is not None:
        counts[REINDEXED_BATCHES] = len(overlay)
    elif tables == DERIVED_TABLES:
        counts[COURSE_DIRECTORY] = write_directory(lake)
    return counts


def _part_rows_wanted(part: Part, overlay: tuple[str, ...] | None) -> dict[str, dict[str, object]]:
    """The read conditions of a part's rows: its range of batches, or an incremental run's batches in it (their
    row groups alone are read)."""
    if overlay is None:
        return {"between": {"batch_id": (part.first, part.last)}}
    return {"isin": {"batch_id": [batch_id for batch_id in overlay if part.first <= batch_id <= part.last]}}


def write_batch_users(lake: Lake) -> int:
    """(Re)write batch_users alone (index_lake's rows and bytes for it); answer its row count."""
    return index_lake(lake, tables=(BATCH_USERS,))[BATCH_USERS]


def consent_collections(catalog: Catalog) -> list[str]:
    """The collections whose batches get userinfo lines: asking for consent, not retired."""
    return sorted(
        {batch.collection_id for batch in catalog.batches.values() if batch.requires_consent and not batch.retired}
    )


def consent_collections_of(lake: Lake) -> list[str]:
    """consent_collections(Catalog(lake)) from the columns the rule reads: the collections' consent flag and status,
    the batches' collection ids. What the Spark job's driver holds instead of a catalog, whose courses'
    hierarchies grow with the lake (tests compare the two)."""
    collections = lake.read("collections", ["collection_id", "requires_consent", "status"]).to_pylist()
    asking = {row["collection_id"] for row in collections if row["requires_consent"] and row["status"] != RETIRED}
    batched = pc.unique(lake.read("batches", ["collection_id"])["collection_id"]).to_pylist()
    return sorted(asking.intersection(batched))


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


def write_userinfo_lines(lake: Lake) -> int:
    """(Re)write userinfo_lines alone from the stored batch_users and the consents; answer its row count.

    The profiles come from batch_users as stored, so the lines record the files batch_users was derived from
    (LakeNotIndexed without them) and the consents files now: over a stale batch_users they are stale too.
    """
    consents = source_snapshot(lake, ("consents",))["consents"]
    recorded = (lake.pointer(BATCH_USERS) or {}).get("sources") if lake.listing(BATCH_USERS) else None
    if recorded is None:
        raise LakeNotIndexed("is missing or does not record the files it was derived from")
    catalog = Catalog(lake)
    consumers = consumers_by_collection(lake, consent_collections(catalog))
    snapshot: Snapshot = {**recorded, "consents": consents}
    run = IndexRun((Part(0, "", ""),), recorded_sources(snapshot, (USERINFO_LINES,)), consumers)
    batches = [batch for batch in catalog.batches.values() if batch.collection_id in consumers]
    spec = TABLES[USERINFO_LINES]
    out = RowGroupWriter(lake.filesystem, run.staged(lake.root, USERINFO_LINES, 0), spec, {})
    try:
        for batch in sorted(batches, key=lambda batch: batch.batch_id):
            for consumer_id in consumers[batch.collection_id]:
                for users in _pieces(
                    lake, BATCH_USERS, batch.batch_id, userinfo_rows.PROFILE_COLUMNS, userinfo_rows.DICTIONARY_COLUMNS
                ):
                    found = userinfo_rows_of(lake, batch, consumer_id, users)
                    if found is not None:
                        out.add(found)
        written = out.close()
        publish(lake, run)
    except BaseException:
        discard(lake, run)
        raise
    return written


def stored_userinfo(lake: Lake, batch: BatchInfo, consumer_id: str) -> Stored:
    """The index's userinfo-exhaust lines of (batch, consumer), if fresh. A consumer without any consent event
    for the collection at index time has no line: its answer is no row (NoDataFound), not a live build."""
    stale = staleness(lake, USERINFO_LINES)
    if stale is None:
        consumers = (lake.pointer(USERINFO_LINES) or {}).get("consumers", {})
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
