"""What an incremental index run compares the lake with, and which batches it must index again.

Every index run records, in batch_users' pointer (its "state"), two digests of what it read:
- each row group of enrolments and assessment_attempts (the bytes of its column chunks, with the file's schema),
  by the batch ids its statistics bound: a batch whose row groups changed, appeared or went is re-indexed;
- each user's profile (users is sorted by user, so a load that changes one profile or inserts one user moves every
  later row group): a changed, new or removed user's batches are re-indexed.

Only files whose identity changed are read for their row groups' digests (the freshness identity: name, size,
footer digest, exhaust.lake.extracts); the others keep the recorded ones. Changes to any other source (courses,
batches, consents, registration consents, question types) are not followed: they need a full index.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exhaust.lake.extracts import BATCH_USERS
from exhaust.lake.index_parts import DERIVED_TABLES, USERINFO_LINES
from exhaust.lake.store import OVERLAY, Lake

# Batch-keyed sources, compared row group by row group; users, compared user by user. Every other source of the
# derived tables must be unchanged for an incremental run.
ROW_GROUP_SOURCES = ("enrolments", "assessment_attempts")
FOLLOWED_SOURCES = (*ROW_GROUP_SOURCES, "users")
# An incremental run re-indexes at most this share of the enrolment and attempt rows (with the previous overlay's):
# past it a full index costs little more, and it folds the overlay back into the tables' files.
MAX_OVERLAY_ROW_SHARE = 0.05
# A load changing more profiles than this is a bulk reload: a full run (the Spark job gathers the changed users'
# ids on its driver to find their enrolments where they are read).
MAX_CHANGED_USERS = 500_000
USER_DIGESTS = "_user_digests.parquet"
ROW_GROUP_DIGESTS = "_row_group_digests.parquet"
USER_DIGESTS_SCHEMA = pa.schema([("user_id", pa.string(), False), ("digest", pa.binary(16), False)])
ROW_GROUP_DIGESTS_SCHEMA = pa.schema(
    [
        ("table", pa.string(), False),
        ("file", pa.string(), False),
        ("size", pa.int64(), False),
        ("footer", pa.string(), False),
        ("row_group", pa.int32(), False),
        ("low", pa.string()),  # the row group's least and greatest batch_id; null without statistics
        ("high", pa.string()),
        ("digest", pa.binary(32), False),
    ]
)


def user_digests(users: pa.Table) -> pa.Table:
    """Each user's profile digest (USER_DIGESTS_SCHEMA, sorted by user_id): every column as its length and its
    value, "-" and "-" when null, joined by ":" in one call (the length says where each value ends, so no two
    profiles share an encoding; one join over every column costs 40% of a join per column)."""
    encoded = []
    for name in users.column_names:
        text = pc.cast(users[name], pa.string())
        encoded += [pc.cast(pc.binary_length(text), pa.string()), text]
    if encoded:
        rows = pc.binary_join_element_wise(*encoded, ":", null_handling="replace", null_replacement="-")
        rows = pc.cast(rows, pa.binary())
    else:
        rows = pa.array([], pa.binary())
    digests = [hashlib.blake2b(row, digest_size=16).digest() for row in rows.to_pylist()]
    table = pa.table({"user_id": users["user_id"], "digest": pa.array(digests, pa.binary(16))}, USER_DIGESTS_SCHEMA)
    return table.sort_by("user_id")


def row_group_digests(lake: Lake, snapshot: Mapping[str, Any], recorded: pa.Table | None = None) -> pa.Table:
    """ROW_GROUP_DIGESTS_SCHEMA rows of every row group of ROW_GROUP_SOURCES: the recorded ones of a file whose
    name, size and footer digest (the `snapshot`'s, exhaust.lake.extracts) are the recorded ones, the others read
    (each file once, whole) and digested."""
    recorded = ROW_GROUP_DIGESTS_SCHEMA.empty_table() if recorded is None else recorded
    identities = {
        (table, name, size, digest) for table in ROW_GROUP_SOURCES for name, size, _, digest in snapshot[table]
    }
    keys = list(zip(*(recorded[column].to_pylist() for column in ("table", "file", "size", "footer")), strict=True))
    kept = recorded.filter(pa.array([key in identities for key in keys], pa.bool_()))
    known = set(keys)
    read: list[dict[str, object]] = []
    for table in ROW_GROUP_SOURCES:
        footers = {path.rsplit("/", 1)[-1]: (path, metadata) for path, metadata in lake.files(table)}
        for name, size, _, digest in snapshot[table]:
            identity = (table, name, size, digest)
            if identity not in known:
                read += _digested(lake, *footers[name], identity)
    return pa.concat_tables([kept.cast(ROW_GROUP_DIGESTS_SCHEMA), pa.Table.from_pylist(read, ROW_GROUP_DIGESTS_SCHEMA)])


def _digested(
    lake: Lake, path: str, metadata: pq.FileMetaData, identity: tuple[str, str, int, str]
) -> list[dict[str, object]]:
    table, name, size, footer = identity
    with lake.filesystem.open_input_file(path) as source:
        data = source.read()
    position = [metadata.schema.column(i).path for i in range(metadata.num_columns)].index("batch_id")
    # The same bytes decode to other rows under another schema or codec: both go into each digest.
    layout = str(metadata.schema.to_arrow_schema()).encode()
    found = []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        chunks = [group.column(i) for i in range(group.num_columns)]
        starts = [
            chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset for chunk in chunks
        ]
        digest = hashlib.sha256(layout)
        for chunk, start in zip(chunks, starts, strict=True):
            digest.update(chunk.compression.encode())
            digest.update(data[start : start + chunk.total_compressed_size])
        statistics = group.column(position).statistics
        bounded = statistics is not None and statistics.has_min_max
        found.append(
            {
                "table": table,
                "file": name,
                "size": size,
                "footer": footer,
                "row_group": index,
                "low": statistics.min if bounded else None,
                "high": statistics.max if bounded else None,
                "digest": digest.digest(),
            }
        )
    return found


@dataclass(frozen=True)
class IndexState:
    """The digests an index run read the lake by, as its pointer records them (`state`: "users", the profile
    digests' files, one or one per Spark task; "rowGroups", the row groups' digests' file)."""

    users: pa.Table
    row_groups: pa.Table

    @classmethod
    def recorded(cls, lake: Lake, state: Mapping[str, Any], folder: str) -> IndexState:
        users = [read_parquet(lake, f"{folder}/{name}") for name in state["users"]]
        users_table = pa.concat_tables(users) if users else USER_DIGESTS_SCHEMA.empty_table()
        return cls(users_table, recorded_row_groups(lake, state, folder))

    def write(self, lake: Lake, folder: str, run_dir: str) -> dict[str, Any]:
        """Write the digests under the run's folder; answer the pointer's "state" (paths in the table's folder)."""
        users = f"{run_dir}/{USER_DIGESTS}"
        write_parquet(lake, f"{folder}/{users}", self.users)
        return {"users": [users], "rowGroups": write_row_groups(lake, self.row_groups, folder, run_dir)}


def recorded_row_groups(lake: Lake, state: Mapping[str, Any], folder: str) -> pa.Table:
    return read_parquet(lake, f"{folder}/{state['rowGroups']}")


def write_row_groups(lake: Lake, row_groups: pa.Table, folder: str, run_dir: str) -> str:
    name = f"{run_dir}/{ROW_GROUP_DIGESTS}"
    write_parquet(lake, f"{folder}/{name}", row_groups)
    return name


def write_parquet(lake: Lake, path: str, table: pa.Table) -> None:
    """A state file (its folder made first)."""
    lake.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    pq.write_table(table, path, filesystem=lake.filesystem, compression="zstd")


def read_parquet(lake: Lake, path: str) -> pa.Table:
    with lake.filesystem.open_input_file(path) as source:
        return pq.read_table(source)


def changed_users(before: pa.Table, after: pa.Table) -> pa.Array:
    """The user ids whose digest differs, or that only one side holds."""
    joined = before.join(after, "user_id", join_type="full outer", left_suffix="_before", right_suffix="_after")
    same = pc.fill_null(pc.equal(joined["digest_before"], joined["digest_after"]), False)
    return pc.filter(joined["user_id"], pc.invert(same)).combine_chunks()


def changed_row_groups(before: pa.Table, after: pa.Table) -> list[tuple[str | None, str | None]]:
    """The batch id bounds (low, high) whose row groups differ: per table and bounds, the digests in the order a
    read meets them (files in name order, row groups in order) are compared, so a reordering counts too."""
    order = [("table", "ascending"), ("file", "ascending"), ("row_group", "ascending")]
    sequences: list[dict[tuple[str, str | None, str | None], list[bytes]]] = []
    for side in (before, after):
        found: dict[tuple[str, str | None, str | None], list[bytes]] = {}
        ordered = side.sort_by(order)
        columns = (ordered[name].to_pylist() for name in ("table", "low", "high", "digest"))
        for table, low, high, digest in zip(*columns, strict=True):
            found.setdefault((table, low, high), []).append(digest)
        sequences.append(found)
    differing = {key for key in {*sequences[0], *sequences[1]} if sequences[0].get(key) != sequences[1].get(key)}
    return sorted({(low, high) for _, low, high in differing}, key=lambda bounds: (bounds[0] or "", bounds[1] or ""))


def batches_within(bounds: Iterable[tuple[str | None, str | None]], batch_ids: Sequence[str]) -> set[str] | None:
    """The batch ids (of the sorted `batch_ids`, and each bound itself) the bounds cover; None when a row group had
    no statistics (its batches are unknown: a full index)."""
    found: set[str] = set()
    for low, high in bounds:
        if low is None or high is None:
            return None
        found.update({low, high})
        found.update(batch_ids[bisect.bisect_left(batch_ids, low) : bisect.bisect_right(batch_ids, high)])
    return found


def recorded_state(lake: Lake) -> IndexState | None:
    """The digests batch_users' pointer records (None: no run recorded them, or they cannot be read)."""
    state = recorded_paths(lake)
    if state is None:
        return None
    try:
        return IndexState.recorded(lake, state, lake.table_dir(BATCH_USERS))
    except (OSError, pa.ArrowInvalid, KeyError):
        return None


def recorded_paths(lake: Lake) -> Mapping[str, Any] | None:
    """batch_users' pointer's `state` (None: no run recorded one)."""
    state = (lake.pointer(BATCH_USERS) or {}).get("state") if lake.listing(BATCH_USERS) else None
    return state or None


def earlier_overlay(lake: Lake, snapshot: Mapping[str, Any]) -> list[str] | None:
    """The previous overlay's batches (empty after a full run) when an incremental run may follow the previous
    run; None when only a full index is right: the previous tables were not written together by one run, or a
    source other than FOLLOWED_SOURCES changed. The consumers per collection derive from those (consents,
    collections, batches), so the recorded ones still hold."""
    pointers = {table: lake.pointer(table) for table in DERIVED_TABLES}
    if any(pointer is None or "sources" not in pointer for pointer in pointers.values()):
        return None
    if len({pointer["run"] for pointer in pointers.values() if pointer is not None}) != 1:
        return None
    if "consumers" not in (pointers[USERINFO_LINES] or {}):
        return None
    for pointer in pointers.values():
        for source, files in (pointer or {})["sources"].items():
            if source not in FOLLOWED_SOURCES and _identities(files) != _identities(snapshot[source]):
                return None
    return list(((pointers[BATCH_USERS] or {}).get(OVERLAY) or {}).get("batches", []))


def too_many_changed(users: int) -> bool:
    """Whether a load changed so many profiles (MAX_CHANGED_USERS) that the run is a full one."""
    return users > MAX_CHANGED_USERS


def within_share(overlay: Sequence[str], rows_of: Mapping[str, int], total: int) -> bool:
    """Whether the overlay's batches hold at most MAX_OVERLAY_ROW_SHARE of the lake's `total` enrolment and
    attempt rows (`rows_of`: at least the overlay's batches' rows)."""
    return not total or sum(rows_of.get(batch_id, 0) for batch_id in overlay) <= MAX_OVERLAY_ROW_SHARE * total


def incremental_overlay(
    lake: Lake,
    snapshot: Mapping[str, Any],
    previous: IndexState,
    current: IndexState,
    keys: pa.Table,
    rows: Mapping[str, int],
) -> tuple[str, ...] | None:
    """The batches the single process indexes again (sorted), or None when only a full index is right (see
    `earlier_overlay`; also when a changed row group had no statistics, past MAX_CHANGED_USERS, or past
    MAX_OVERLAY_ROW_SHARE: the previous overlay's batches are indexed again with the new ones)."""
    earlier = earlier_overlay(lake, snapshot)
    if earlier is None:
        return None
    within = batches_within(changed_row_groups(previous.row_groups, current.row_groups), sorted(rows))
    if within is None:
        return None
    users = changed_users(previous.users, current.users)
    if too_many_changed(len(users)):
        return None
    enrolled = keys.filter(pc.is_in(keys["user_id"], value_set=users)) if len(users) else keys.slice(0, 0)
    overlay = sorted({*earlier, *within, *pc.unique(enrolled["batch_id"]).to_pylist()})
    return tuple(overlay) if within_share(overlay, rows, sum(rows.values())) else None


def _identities(files: Sequence[Sequence[object]]) -> list[list[object]]:
    """A recorded table's files without their modification times (a copy of the same files is the same)."""
    return [[name, size, digest] for name, size, _, digest in files]
