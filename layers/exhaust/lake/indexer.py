"""The scheduled indexer: rewrites the lake's derived tables when a load has made them stale (docs/lake.md).

The lake is loaded by the platform, outside this service, and every load of collections, batches, enrolments,
users, attempts or consents makes some derived table stale: progress-exhaust then refuses to build
(LakeNotIndexed) and userinfo- and response-exhaust compute their rows at each build. The indexer looks every
few minutes (listings only while all is fresh) and runs `exhaust lake index` when something is stale, so an
operator no longer has to.
"""

from __future__ import annotations

import time
from typing import Any

from exhaust.lake.materialized import index_if_stale
from exhaust.lake.store import Lake
from exhaust.observability import logger
from exhaust.settings import get_settings


def run(lake_uri: str | None = None) -> dict[str, Any]:
    """Index the lake if any derived table is stale; answer what was stale and how long it took."""
    uri = lake_uri or get_settings().lake_uri
    started = time.monotonic()
    stale = index_if_stale(Lake.open(uri))
    seconds = round(time.monotonic() - started, 1)
    if stale:
        logger.info("lake re-indexed", extra={"lake": uri, "stale": stale, "seconds": seconds})
    else:
        logger.info("lake index fresh", extra={"lake": uri, "seconds": seconds})
    return {"lake": uri, "reindexed": bool(stale), "stale": stale, "seconds": seconds}
