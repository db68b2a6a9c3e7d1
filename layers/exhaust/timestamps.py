"""How instants are written for partners: statusMessage, dataAvailableUntil, events (seeds 001/002)."""

from __future__ import annotations

import datetime as dt


def iso_utc(epoch_ms: int) -> str:
    """`2026-12-01T09:40:00Z` for an instant in epoch milliseconds."""
    instant = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).replace(microsecond=0)
    return instant.isoformat().replace("+00:00", "Z")
