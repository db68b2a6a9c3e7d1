"""The lake's completeness marker: the instant up to which every table of the lake is complete.

Whatever loads the lake writes `{lake root}/_completeness.json` after each load, once every table holds the data up
to that instant:

    {"dataAvailableUntil": "2026-12-01T00:00:00Z", "writtenBy": "nightly-load", "writtenAt": "2026-12-01T02:10:44Z"}

Locally the generator writes it (its data ends with yesterday, so: today's midnight, UTC) and local mode's daily
producer moves it to each midnight that passes. The dataset list, standard dataset get and Plan read it; a lake
without the marker has no known readiness (no dataAvailableUntil is answered).

No pyarrow here: API Lambdas read the marker with boto3.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exhaust import aws
from exhaust.timestamps import iso_utc

MARKER_NAME = "_completeness.json"
DAY_MS = 86_400_000


def _location(lake_uri: str) -> tuple[str | None, str]:
    """(bucket, key) of the marker of an `s3://bucket/prefix` lake, (None, path) of a directory lake."""
    if lake_uri.startswith("s3://"):
        bucket, _, prefix = lake_uri.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        return bucket, f"{prefix}/{MARKER_NAME}" if prefix else MARKER_NAME
    return None, os.path.join(os.path.abspath(lake_uri), MARKER_NAME)


def parse_instant(value: str) -> int:
    """Epoch ms of an ISO 8601 instant with its offset (`Z` or `+00:00`); naive times are refused."""
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return int(instant.timestamp() * 1000)


def marker_body(until: dt.datetime, written_by: str, written_at: dt.datetime | None = None) -> bytes:
    def instant(value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    body = {
        "dataAvailableUntil": instant(until),
        "writtenBy": written_by,
        "writtenAt": instant(written_at or dt.datetime.now(dt.UTC)),
    }
    return json.dumps(body, indent=2).encode("utf-8")


def write_marker(lake_uri: str, until: dt.datetime, written_by: str) -> None:
    """Say the lake is complete up to `until` (timezone-aware)."""
    bucket, key = _location(lake_uri)
    body = marker_body(until, written_by)
    if bucket is None:
        Path(key).parent.mkdir(parents=True, exist_ok=True)
        Path(key).write_bytes(body)
        return
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def read_marker(lake_uri: str) -> int | None:
    """The lake's dataAvailableUntil (epoch ms); None when no marker was written or it cannot be understood."""
    bucket, key = _location(lake_uri)
    try:
        if bucket is None:
            raw = Path(key).read_bytes()
        else:
            raw = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except FileNotFoundError:
        return None
    except aws.transport_errors()[0] as error:  # ClientError, without importing botocore at cold start
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:
        parsed: Any = json.loads(raw)
        return parse_instant(str(parsed["dataAvailableUntil"]))
    except (ValueError, KeyError, TypeError):
        return None


def midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def scope_end_ms(submitted_at: int, batch_end_dates: Sequence[str | None] | None) -> int:
    """Up to when a request's data reaches: the end of its batches' last day, at most its submission.

    A batch without an end date is still running, and so is an organisation-wide request (None): both reach to the
    moment of submission.
    """
    if not batch_end_dates or any(not end for end in batch_end_dates):
        return submitted_at
    last = max(dt.date.fromisoformat(str(end)[:10]) for end in batch_end_dates if end)
    return min(submitted_at, int(midnight_utc(last).timestamp() * 1000) + DAY_MS)


def readiness(lake_uri: str, submitted_at: int, batch_end_dates: Sequence[str | None] | None) -> dict[str, Any]:
    """What Plan records on the request: dataAvailableUntil and whether it covers the scope (none without a marker)."""
    available = read_marker(lake_uri)
    if available is None:
        return {}
    return {"dataAvailableUntil": available, "dataComplete": available >= scope_end_ms(submitted_at, batch_end_dates)}


def readiness_answer(lake_uri: str) -> dict[str, str]:
    """`{"dataAvailableUntil": <ISO 8601 UTC>}` for the dataset routes; empty when the lake has no marker.

    Every dataset is built from the one lake, so they share its instant (docs/datasets.md).
    """
    available = read_marker(lake_uri)
    return {} if available is None else {"dataAvailableUntil": iso_utc(available)}
