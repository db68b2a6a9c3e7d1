"""Local mode's sample lake: the small scale written into the lake bucket, its ids into the credentials file."""

from __future__ import annotations

from typing import Any

from exhaust.settings import RuntimeSettings

LOCAL_SEED = 2020
LOCAL_SCALE = "small"


def seed_lake(settings: RuntimeSettings, channel: str, samples: dict[str, Any]) -> dict[str, Any]:
    """A Seeder (exhaust.local.runtime): generate the small lake; answer the sample ids for the README."""
    from exhaust.lake.generator import generate

    found = generate(LOCAL_SCALE, LOCAL_SEED, settings.lake_uri, channel=channel)
    found.pop("channel", None)
    return {"samples": {**found, "lakeUri": settings.lake_uri}}
