"""Local mode's sample lake: the small scale written into the lake bucket, its ids into the credentials file."""

from __future__ import annotations

from typing import Any

from exhaust.settings import RuntimeSettings

LOCAL_SEED = 2020
LOCAL_SCALE = "small"


def seed_lake(settings: RuntimeSettings, channel: str, samples: dict[str, Any]) -> dict[str, Any]:
    """A Seeder (exhaust_devkit.local.runtime): generate the small lake; answer the sample ids for the tour
    (docs/tour.md)."""
    from exhaust_devkit.lake.generator import generate

    found = generate(LOCAL_SCALE, LOCAL_SEED, settings.lake_uri, channel=channel)
    found.pop("channel", None)
    return {"samples": {**found, "lakeUri": settings.lake_uri}}


def refresh_kept_index(lake_uri: str) -> bool:
    """Re-index a restored lake whose derived tables are stale or from an older version; True if it did.

    A kept state may hold a lake indexed by an earlier release (or reloaded by hand): without this its progress
    and userinfo builds would fail with LakeNotIndexed until the user ran `exhaust lake index`, and its userinfo
    and response builds would compute their rows at each build.
    """
    from exhaust.lake.materialized import index_if_stale
    from exhaust.lake.store import Lake
    from exhaust.observability import logger

    stale = index_if_stale(Lake.open(lake_uri))
    if stale:
        logger.info("re-indexed the kept lake", extra={"reason": "; ".join(f"{t} {why}" for t, why in stale.items())})
    return bool(stale)
