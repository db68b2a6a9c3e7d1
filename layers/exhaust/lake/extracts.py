"""The lake's derived tables, written when the lake is loaded: `exhaust lake index` after new enrolments, users
or attempts.

`batch_users`: every enrolment's user profile, sorted by (batch_id, user_id) like enrolments, each batch in row
groups of its own. A builder then reads a batch's profiles as one run of rows, whatever the batch's size,
instead of looking its users up across the whole users table (a 387-row batch of a 1,000,000-user lake read
28 MB of users in 125 ranged reads; it now reads one row group). An enrolment whose user is unknown gets a row
with only its ids.

Each row also holds the user's best attempt at each content within the batch (`best_attempts`) and the
enrolment's finished progress-exhaust line (`progress_line`): progress-exhaust depends only on the loaded lake
(no consent), so the builder streams the lines. The table's pointer records the source tables' files (name, size,
modification time, footer digest) it was derived from; a builder refuses an extract that is missing or derived
from other files (`LakeNotIndexed`) instead of writing stale rows. Consents are no source of it: the lines that
depend on them (exhaust.lake.materialized) are used only while the consents are the ones they were derived from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow.parquet as pq

from exhaust.lake.store import Lake

BATCH_USERS = "batch_users"
PROGRESS_LINE = "progress_line"
INDEX_COMMAND = "exhaust lake index --lake <root>"
# What the extract is derived from: a change to any of their files makes it stale.
SOURCE_TABLES = ("collections", "batches", "enrolments", "users", "assessment_attempts")


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
    """A digest of a Parquet footer: its Thrift bytes (rows, row groups, every column chunk's offsets, sizes and
    statistics), which pickling the footer carries. Hashing them takes 30 ms for a footer of 6,000 row groups where
    walking `to_dict()` took 400."""
    _, (serialized,) = metadata.__reduce__()
    return hashlib.sha256(memoryview(serialized)).hexdigest()


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


def staleness(lake: Lake, table: str) -> str | None:
    """Why the derived `table` cannot be used (missing, written without its sources, derived from other files
    than the lake holds now), or None when it is fresh. Listings only, unless file times changed."""
    if not lake.listing(table):
        return "is missing"
    recorded = (lake.pointer(table) or {}).get("sources")
    if recorded is None:
        return "does not record the files it was derived from (written by an older version)"
    changed = _stale_tables(lake, recorded)
    if changed:
        return f"was derived from other files of {', '.join(changed)} than the lake holds now"
    return None


def check_indexed(lake: Lake) -> None:
    """Raise LakeNotIndexed unless the extract exists and was derived from the source tables' current files."""
    reason = staleness(lake, BATCH_USERS)
    if reason is not None:
        raise LakeNotIndexed(reason)
