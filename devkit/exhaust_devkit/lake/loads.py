"""A day's load on an indexed lake, as a loader that rewrites its tables would make it: what incremental index
runs are measured and tested on.

`touch_batches` gives new enrolments to some batches and changes the profiles of some users (each user's batches
are touched too), until about `share` of the batches are touched, half each way; then it rewrites every enrolments
and users file holding a change, with the writer the generators use (a row group per batch, so the row groups of
untouched batches come out byte for byte as before).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from exhaust.lake.index_parts import RowGroupWriter
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
    """Touch about `share` of the lake's enrolled batches (at least one each way); answer what changed."""
    rng = random.Random(seed)
    keys = lake.read("enrolments", ["batch_id", "user_id"])
    batch_ids = sorted(pc.unique(keys["batch_id"]).to_pylist())
    wanted = max(1, round(share * len(batch_ids) / 2))
    users = lake.read("users", ["user_id"])["user_id"].to_pylist()
    enrolled_in: dict[str, set[str]] = {}
    for batch_id, user_id in zip(keys["batch_id"].to_pylist(), keys["user_id"].to_pylist(), strict=True):
        enrolled_in.setdefault(batch_id, set()).add(user_id)
    # New enrolments: a few users not yet in each chosen batch.
    grown = rng.sample(batch_ids, min(wanted, len(batch_ids)))
    added: dict[str, list[str]] = {}
    for batch_id in grown:
        outside = [user for user in rng.sample(users, min(len(users), 50)) if user not in enrolled_in[batch_id]]
        added[batch_id] = outside[:NEW_ENROLMENTS_PER_BATCH]
    # Changed profiles: users whose batches, all touched, add up to the other half.
    batches_of: dict[str, list[str]] = {}
    for batch_id, members in enrolled_in.items():
        for user_id in members:
            batches_of.setdefault(user_id, []).append(batch_id)
    touched = set(grown)
    changed: set[str] = set()
    candidates = sorted(batches_of)
    rng.shuffle(candidates)
    for user_id in candidates:
        if len(touched) >= 2 * wanted:
            break
        if len(touched) + len(batches_of[user_id]) <= 2 * wanted + 2:
            changed.add(user_id)
            touched.update(batches_of[user_id])
    _rewrite_enrolments(lake, added)
    _rewrite_users(lake, changed)
    return Load(tuple(sorted(touched)), sum(len(found) for found in added.values()), len(changed))


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


def _write(lake: Lake, name: str, path: str, rows: pa.Table) -> None:
    spec = TABLES[name]
    writer = RowGroupWriter(lake.filesystem, path, spec, {})
    writer.add(rows.sort_by([(key, "ascending") for key in spec.sort_key]))
    writer.close()
