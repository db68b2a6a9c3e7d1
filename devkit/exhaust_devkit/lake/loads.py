"""A day's load on an indexed lake, as a loader that rewrites its tables would make it: what incremental index
runs are measured and tested on.

`touch_batches` gives new enrolments to some batches and changes the profiles of some users (each user's batches
are touched too), until about `share` of the batches are touched, half each way; then it rewrites every enrolments
and users file holding a change, with the writer the generators use (a row group per batch, so the row groups of
untouched batches come out byte for byte as before). `batch_row_group_digests` is how an incremental run's tables
are compared with a full index's.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from exhaust.lake.index_parts import DERIVED_TABLES, RowGroupWriter
from exhaust.lake.schemas import TABLES
from exhaust.lake.store import Lake

MOVED_DISTRICT = "District moved"
NEW_ENROLMENTS_PER_BATCH = 3


@dataclass(frozen=True)
class Load:
    """What a load changed: the batches it touched (sorted), the enrolments it added, the users it changed."""

    batches: tuple[str, ...]
    new_enrolments: int
    changed_users: int


def touch_batches(lake: Lake, share: float, seed: int = 1) -> Load:
    """Touch `share` of the lake's enrolled batches, drawn uniformly (at least two): half get a few new
    enrolments, the other half profile changes of users enrolled in those batches alone (a batch without such a
    user gets a new enrolment instead). Answer what changed."""
    rng = random.Random(seed)
    keys = lake.read("enrolments", ["batch_id", "user_id"])
    members: dict[str, set[str]] = {}
    batches_of: dict[str, set[str]] = {}
    for batch_id, user_id in zip(keys["batch_id"].to_pylist(), keys["user_id"].to_pylist(), strict=True):
        members.setdefault(batch_id, set()).add(user_id)
        batches_of.setdefault(user_id, set()).add(batch_id)
    chosen = rng.sample(sorted(members), min(len(members), max(2, round(share * len(members)))))
    reprofiled = set(chosen[len(chosen) // 2 :])
    users = lake.read("users", ["user_id"])["user_id"].to_pylist()
    added: dict[str, list[str]] = {}
    changed: set[str] = set()
    for batch_id in chosen:
        alone = sorted(user for user in members[batch_id] if batches_of[user] <= reprofiled)
        if batch_id in reprofiled and alone:
            changed.update(rng.sample(alone, min(2, len(alone))))
            continue
        outside = [user for user in rng.sample(users, min(len(users), 50)) if user not in members[batch_id]]
        added[batch_id] = outside[:NEW_ENROLMENTS_PER_BATCH]
    _rewrite_enrolments(lake, added)
    _rewrite_users(lake, changed)
    return Load(tuple(sorted(chosen)), sum(len(found) for found in added.values()), len(changed))


def _rewrite_enrolments(lake: Lake, added: dict[str, list[str]]) -> None:
    for path, _ in lake.files("enrolments"):
        table = pq.read_table(path, filesystem=lake.filesystem)
        held = set(pc.unique(table["batch_id"]).to_pylist())
        extra = []
        for batch_id in sorted(held.intersection(added)):
            template = table.filter(pc.equal(table["batch_id"], batch_id)).slice(0, 1)
            for user_id in added[batch_id]:
                extra.append(template.set_column(1, table.schema.field("user_id"), pa.array([user_id], pa.string())))
        if extra:
            _write(lake, "enrolments", path, pa.concat_tables([table, *extra]))


def _rewrite_users(lake: Lake, changed: set[str]) -> None:
    if not changed:
        return
    for path, _ in lake.files("users"):
        table = pq.read_table(path, filesystem=lake.filesystem)
        moving = pc.is_in(table["user_id"], value_set=pa.array(sorted(changed), pa.string()))
        if not pc.any(moving).as_py():
            continue
        district = pc.if_else(moving, MOVED_DISTRICT, table["district"])
        _write(lake, "users", path, table.set_column(table.schema.get_field_index("district"), "district", district))


def batch_row_group_digests(lake: Lake, tables: tuple[str, ...] = DERIVED_TABLES) -> dict[str, dict[str, list[str]]]:
    """Per derived table and batch, a digest of each row group a read of the batch takes (its column chunks' bytes,
    in read order): what an incremental run must write as a full index would, wherever the row groups sit."""
    found: dict[str, dict[str, list[str]]] = {}
    for table in tables:
        footers = dict(lake.files(table))
        by_batch: dict[str, list[str]] = {}
        for piece in lake.pieces(table):
            metadata = footers[piece.path]
            with lake.filesystem.open_input_file(piece.path) as source:
                data = source.read()
            for index in piece.row_groups:
                group = metadata.row_group(index)
                bounds = group.column(0).statistics  # batch_id, the first column of every derived table
                if bounds.min != bounds.max:
                    raise ValueError(f"{piece.path}: row group {index} holds several batches")
                digest = hashlib.sha256()
                for chunk in (group.column(i) for i in range(group.num_columns)):
                    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
                    digest.update(data[start : start + chunk.total_compressed_size])
                by_batch.setdefault(bounds.min, []).append(digest.hexdigest())
        found[table] = by_batch
    return found


def _write(lake: Lake, name: str, path: str, rows: pa.Table) -> None:
    spec = TABLES[name]
    writer = RowGroupWriter(lake.filesystem, path, spec, {})
    writer.add(rows.sort_by([(key, "ascending") for key in spec.sort_key]))
    writer.close()
