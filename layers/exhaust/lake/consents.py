"""Consent lookups the builders and the index share: the latest consent event per user decides (docs/lake.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.lake import values
from exhaust.lake.schemas import CONSENT_ACTIVE
from exhaust.lake.store import Lake


def latest_active(
    lake: Lake,
    table: str,
    equals: Mapping[str, Any],
    user_ids: pa.Array | None = None,
    columns: Sequence[str] = (),
) -> pa.Table:
    """user_id, consented_on and `columns` of the users whose latest event in `table` (under `equals`) is ACTIVE.

    With `user_ids` (sorted), only their id range is read. Rows come back in user id order.
    """
    between = None if user_ids is None else {"user_id": values.user_range(user_ids)}
    found = lake.read(table, ["user_id", "status", "consented_on", *columns], equals=dict(equals), between=between)
    return latest_active_among(found, columns)


def latest_active_among(found: pa.Table, columns: Sequence[str] = ()) -> pa.Table:
    """latest_active's rule over events already read (user_id, status, consented_on and `columns`), in the order
    the lake holds them (files in name order, rows in file order): that order breaks ties of time."""
    kept = ["status", "consented_on", *columns]
    if not columns and not any(found.column(name).null_count for name in kept) and _in_user_and_time_order(found):
        # Read from a sorted file: each user's latest event is their last row (no sort, no hashing).
        latest = found.filter(_last_of_each_user(values.single(found, "user_id")))
    else:  # events appended in a later file, or values to take from the latest event that has them
        ordered = found.sort_by([("user_id", "ascending"), ("consented_on", "ascending")])
        latest = ordered.group_by("user_id", use_threads=False).aggregate([(name, "last") for name in kept])
        latest = pa.table({"user_id": latest["user_id"], **{name: latest[f"{name}_last"] for name in kept}})
        latest = latest.sort_by("user_id")
    return latest.filter(pc.equal(latest["status"], CONSENT_ACTIVE))


def _in_user_and_time_order(events: pa.Table) -> bool:
    """Whether the events (without nulls) are sorted by user, then time: the tables' sort order, one file's."""
    if events.num_rows < 2:
        return True
    users, times = values.single(events, "user_id"), values.single(events, "consented_on")
    user, next_user = users.slice(0, len(users) - 1), users.slice(1)
    time, next_time = times.slice(0, len(times) - 1), times.slice(1)
    same_user = pc.equal(user, next_user)
    in_order = pc.or_(pc.less(user, next_user), pc.and_(same_user, pc.less_equal(time, next_time)))
    return bool(pc.all(in_order).as_py())


def _last_of_each_user(users: pa.Array) -> pa.Array:
    """A mask of each user's last row, in rows sorted by user (the latest event, the ordering being stable)."""
    if len(users) == 0:
        return pa.array([], pa.bool_())
    changes = pc.not_equal(users.slice(0, len(users) - 1), users.slice(1))
    return pa.concat_arrays([changes, pa.array([True])])
