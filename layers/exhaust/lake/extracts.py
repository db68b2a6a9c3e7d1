"""The lake's derived tables, written when the lake is loaded: `exhaust lake index` after new enrolments, users
or attempts.

`batch_users`: every enrolment's user profile, sorted by (batch_id, user_id) like enrolments, each batch in row
groups of its own. A builder then reads a batch's profiles as one run of rows, whatever the batch's size,
instead of looking its users up across the whole users table (a 387-row batch of a 1,000,000-user lake read
28 MB of users in 125 ranged reads; it now reads one row group). An enrolment whose user is unknown gets a row
with only its ids.

Each row also holds the user's best attempt at each content within the batch (`best_attempts`) and the
enrolment's finished progress-exhaust line (`progress_line`): progress-exhaust depends only on the loaded lake
(no consent), so the builder streams the lines. The footer records the source tables' files (name, size,
modification time, footer digest) it was derived from; a builder refuses an extract that is missing or derived
from other files (`LakeNotIndexed`) instead of writing stale rows. Consents are no source of it: the lines that
depend on them (exhaust.lake.materialized) are used only while the consents are the ones they were derived from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exhaust.lake import schemas
from exhaust.lake.catalog import Catalog
from exhaust.lake.progress_lines import ENROLMENT_COLUMNS, lines
from exhaust.lake.store import Lake

BATCH_USERS = "batch_users"
PROGRESS_LINE = "progress_line"
INDEX_COMMAND = "exhaust lake index --lake <root>"
# What the extract is derived from: a change to any of their files makes it stale.
SOURCE_TABLES = ("collections", "batches", "enrolments", "users", "assessment_attempts")
SOURCES_KEY = b"exhaust.sources"
# Joins (batch_id, user_id) into one key; neither identifier holds this control character.
_KEY_SEPARATOR = "\x1f"
_LINE_ROWS = 32_768


class LakeNotIndexed(RuntimeError):
    """The batch_users extract is missing or was derived from other files than the lake's: re-run the indexing.

    Transient for the workflow: after a load the scheduled indexer (exhaust.lake.indexer) makes the extract fresh
    within minutes, so the request is deferred (queued again, no attempt used) rather than failed.
    """

    transient = True

    def __init__(self, reason: str):
        super().__init__(f"the lake's {BATCH_USERS} extract {reason}: run `{INDEX_COMMAND}` after loading the lake")


Snapshot = dict[str, list[list[str | int]]]


def source_snapshot(lake: Lake, tables: Sequence[str] = SOURCE_TABLES) -> Snapshot:
    """The tables' files: [name, size, modification time in ns, digest of the footer] each; a table absent from
    the lake has none, so its later appearance shows as a change."""
    snapshot: Snapshot = {}
    for table in tables:
        digests = {path.rsplit("/", 1)[-1]: footer_digest(metadata) for path, metadata in lake.files(table)}
        snapshot[table] = [[name, size, mtime, digests[name]] for name, size, mtime in lake.listing(table)]
    return snapshot


def footer_digest(metadata: pq.FileMetaData) -> str:
    """A digest of a Parquet footer: its rows, row groups and every column chunk's offsets, sizes and statistics."""
    return hashlib.sha256(json.dumps(metadata.to_dict(), sort_keys=True, default=str).encode()).hexdigest()


def _stale_tables(lake: Lake, recorded: Snapshot) -> list[str]:
    """The source tables whose files are not the recorded ones.

    Listing is enough when names, sizes and times agree. A copy of the same files (a restore, local mode's
    restart) has new times: then the footers decide, which hold each column chunk's size and offsets.
    """
    stale = []
    for table, files in sorted(recorded.items()):
        listed = lake.listing(table)
        if [file[:3] for file in files] == [list(entry) for entry in listed]:
            continue
        if [file[:2] for file in files] == [list(entry[:2]) for entry in listed]:
            current = {path.rsplit("/", 1)[-1]: footer_digest(metadata) for path, metadata in lake.files(table)}
            if all(current.get(str(file[0])) == file[3] for file in files):
                continue
        stale.append(table)
    return stale


def write_batch_users(lake: Lake, snapshot: Snapshot | None = None) -> int:
    """(Re)write the batch_users extract from the source tables; answer its row count.

    Each row: the enrolment's profile, its best attempts and its finished progress-exhaust line. The footer
    records the source files as they were before reading them (`snapshot`, taken now if not given), so a load
    during the indexing shows as stale.
    """
    snapshot = {table: (snapshot or source_snapshot(lake))[table] for table in SOURCE_TABLES}
    enrolled = lake.read("enrolments", list(dict.fromkeys(["batch_id", *ENROLMENT_COLUMNS])))
    # In the table's order already when it is one sorted file; a table loaded as several files need not be.
    enrolled = enrolled.sort_by([("batch_id", "ascending"), ("user_id", "ascending")])
    users = lake.read("users")
    positions = pc.index_in(enrolled["user_id"], value_set=users["user_id"].combine_chunks())
    profiles = users.take(positions)
    columns = {"batch_id": enrolled["batch_id"], "user_id": enrolled["user_id"]}
    for name in schemas.USERS.names:
        columns.setdefault(name, profiles[name])
    keys, best = best_attempts_by_enrolment(lake)
    columns["best_attempts"] = best.take(pc.index_in(_enrolment_key(enrolled), value_set=keys))
    extract = pa.table(columns)
    catalog = Catalog(lake)
    parts = (
        _with_progress_lines(catalog, extract.slice(start, length), enrolled.slice(start, length))
        for start, length in _batch_runs(enrolled["batch_id"].combine_chunks())
    )
    lake.write(BATCH_USERS, parts, metadata={SOURCES_KEY.decode(): json.dumps(snapshot)})
    return enrolled.num_rows


def _batch_runs(batch_ids: pa.Array) -> list[tuple[int, int]]:
    """(start, length) of each batch's run of rows (the enrolments are sorted by batch)."""
    if not len(batch_ids):
        return []
    changes = pc.indices_nonzero(pc.not_equal(batch_ids.slice(1), batch_ids.slice(0, len(batch_ids) - 1)))
    starts = [0, *(position + 1 for position in changes.to_pylist())]
    return [(start, end - start) for start, end in zip(starts, [*starts[1:], len(batch_ids)], strict=True)]


def _with_progress_lines(catalog: Catalog, extract: pa.Table, enrolled: pa.Table) -> pa.Table:
    """One batch's rows with their progress-exhaust lines (null where the batch is unknown or retired)."""
    batch = catalog.batch(extract["batch_id"][0].as_py())
    if batch is None or batch.retired:
        return extract.append_column(PROGRESS_LINE, pa.nulls(extract.num_rows, pa.string()))
    chunks = [
        lines(batch, enrolled.slice(start, _LINE_ROWS), extract.slice(start, _LINE_ROWS))
        for start in range(0, extract.num_rows, _LINE_ROWS)
    ]
    return extract.append_column(PROGRESS_LINE, pa.chunked_array(chunks, pa.string()))


def _enrolment_key(table: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        table["batch_id"].combine_chunks(), table["user_id"].combine_chunks(), _KEY_SEPARATOR
    )


def best_attempts_by_enrolment(lake: Lake) -> tuple[pa.Array, pa.ListArray]:
    """(batch_id, user_id) keys and, for each, the best attempt per content, in content_id order.

    An attempt's score and max are the sums over its questions (nulls skipped); the best has the highest score,
    then the lowest max; an attempt without any score ranks last.
    """
    rows = lake.read(
        "assessment_attempts",
        ["batch_id", "user_id", "content_id", "attempt_id", "question_score", "question_max_score"],
    )
    attempts = rows.group_by(["batch_id", "user_id", "content_id", "attempt_id"]).aggregate(
        [("question_score", "sum"), ("question_max_score", "sum")]
    )
    ordered = attempts.sort_by(
        [
            ("batch_id", "ascending"),
            ("user_id", "ascending"),
            ("content_id", "ascending"),
            ("question_score_sum", "descending"),
            ("question_max_score_sum", "ascending"),
        ]
    )
    # Without threads, "first" takes each group's first row in the order above; groups come out in any order.
    best = ordered.group_by(["batch_id", "user_id", "content_id"], use_threads=False).aggregate(
        [("question_score_sum", "first"), ("question_max_score_sum", "first")]
    )
    best = best.sort_by([("batch_id", "ascending"), ("user_id", "ascending"), ("content_id", "ascending")])
    entries = pa.StructArray.from_arrays(
        [
            best["content_id"].combine_chunks(),
            best["question_score_sum_first"].combine_chunks(),
            best["question_max_score_sum_first"].combine_chunks(),
        ],
        fields=list(schemas.BEST_ATTEMPT),
    )
    keys = _enrolment_key(best)
    # Each enrolment's entries are a run of rows: its list starts where the key changes.
    changes = pc.indices_nonzero(pc.not_equal(keys.slice(1), keys.slice(0, max(len(keys) - 1, 0))))
    starts = pa.concat_arrays([pa.array([0] if len(keys) else [], pa.int32()), pc.cast(pc.add(changes, 1), pa.int32())])
    offsets = pa.concat_arrays([starts, pa.array([len(keys)], pa.int32())])
    return keys.take(starts), pa.ListArray.from_arrays(offsets, entries)


def staleness(lake: Lake, table: str) -> str | None:
    """Why the derived `table` cannot be used (missing, written without its sources, derived from other files
    than the lake holds now), or None when it is fresh. Listings only, unless file times changed."""
    if not lake.files(table):
        return "is missing"
    recorded = lake.file_metadata(table).get(SOURCES_KEY)
    if recorded is None:
        return "does not record the files it was derived from (written by an older version)"
    changed = _stale_tables(lake, json.loads(recorded))
    if changed:
        return f"was derived from other files of {', '.join(changed)} than the lake holds now"
    return None


def check_indexed(lake: Lake) -> None:
    """Raise LakeNotIndexed unless the extract exists and was derived from the source tables' current files."""
    reason = staleness(lake, BATCH_USERS)
    if reason is not None:
        raise LakeNotIndexed(reason)
