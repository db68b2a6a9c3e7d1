"""Consent lookups the builders share: the latest consent event per user decides (docs/lake.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.builders import common
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
    between = None if user_ids is None else {"user_id": common.user_range(user_ids)}
    found = lake.read(table, ["user_id", "status", "consented_on", *columns], equals=dict(equals), between=between)
    ordered = found.sort_by([("user_id", "ascending"), ("consented_on", "ascending")])
    kept = ["status", "consented_on", *columns]
    latest = ordered.group_by("user_id", use_threads=False).aggregate([(name, "last") for name in kept])
    latest = common.named(latest, user_id="user_id", **{name: f"{name}_last" for name in kept})
    return latest.filter(pc.equal(latest["status"], CONSENT_ACTIVE)).sort_by("user_id")
