"""A small hand-written lake for the legacy and export APIs: every expected row can be read off this file.

Telemetry (today is 2026-05-20): partner P has 3 events on 05-10, none on 05-11, 2 on 05-12 (two channels);
another partner has one event on each of those days. Observations: 05-01 .. 05-03, see OBSERVATIONS.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from exhaust.auth.credentials import resource_id_of
from exhaust.lake import schemas
from exhaust.lake.store import Lake

TODAY = dt.date(2026, 5, 20)
PARTNER = "org.test.partner"
OTHER_PARTNER = "org.other.partner"
RESOURCE_ID = resource_id_of(PARTNER)
DATASET_ID = "raw-telemetry"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def telemetry_row(day: str, partner: str, event_id: str, time: str, channel: str = "ch-a") -> dict:
    ets = at(f"{day}T{time}")
    event = {"eid": "START", "mid": event_id, "ets": int(ets.timestamp() * 1000), "context": {"channel": channel}}
    return {
        "event_date": dt.date.fromisoformat(day),
        "channel": channel,
        "partner_id": partner,
        "event_id": event_id,
        "eid": "START",
        "ets": ets,
        "session_id": "s1",
        "actor_id": "a1",
        "content_id": "do_1",
        "duration_seconds": 0.0,
        "event_json": json.dumps(event, separators=(",", ":")),
    }


TELEMETRY = [
    telemetry_row("2026-05-10", PARTNER, "p-10-a", "06:00:00"),
    telemetry_row("2026-05-10", PARTNER, "p-10-b", "07:30:00"),
    telemetry_row("2026-05-10", PARTNER, "p-10-c", "23:59:59"),
    telemetry_row("2026-05-10", OTHER_PARTNER, "o-10", "08:00:00"),
    telemetry_row("2026-05-11", OTHER_PARTNER, "o-11", "08:00:00"),
    telemetry_row("2026-05-12", PARTNER, "p-12-a", "01:00:00", channel="ch-b"),
    telemetry_row("2026-05-12", PARTNER, "p-12-b", "02:00:00"),
    telemetry_row("2026-05-12", OTHER_PARTNER, "o-12", "08:00:00"),
]
PARTNER_EVENTS = {
    "2026-05-10": ["p-10-a", "p-10-b", "p-10-c"],
    "2026-05-11": [],
    "2026-05-12": ["p-12-b", "p-12-a"],  # the lake's sort order: channel ch-a before ch-b
}


def observation(when: str, producer_type: str, producer_id: str, metric: str, unit: str, value: float) -> dict:
    return {
        "observed_at": at(when),
        "producer_type": producer_type,
        "producer_id": producer_id,
        "metric": metric,
        "unit": unit,
        "value": value,
        "channel": "ch-a",
    }


OBSERVATIONS = [
    observation("2026-05-01T00:00:00", "sensor", "sensor-1", "temperature", "celsius", 21.5),
    observation("2026-05-01T12:00:00", "sensor", "sensor-2", "humidity", "percent", 40.0),
    observation("2026-05-01T18:00:00", "survey", "survey-1", "attendance", "count", 31.0),
    observation("2026-05-02T23:59:59", "sensor", 'sensor "3", <east>', "temperature", "celsius", -2.25),
    observation("2026-05-02T06:00:00", "device", "device-1", "session_length", "seconds", 600.0),
    observation("2026-05-03T00:00:00", "sensor", "sensor-1", "temperature", "celsius", 19.0),
]


def write_lake(root: Path) -> Lake:
    lake = Lake.open(str(root))
    lake.write("telemetry", pa.Table.from_pylist(TELEMETRY, schema=schemas.TELEMETRY))
    lake.write("observations", pa.Table.from_pylist(OBSERVATIONS, schema=schemas.OBSERVATIONS))
    return lake
