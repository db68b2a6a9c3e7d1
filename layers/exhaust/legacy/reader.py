"""Read one partner's telemetry of one day from the lake (imports pyarrow: loaded only to build an answer).

The telemetry table is sorted by (event_date, channel, partner_id, ets), so `equals={"event_date": day}` lets
the lake skip every row group of other days. The table names partners by id, the API by the SHA-1 of that
id: each distinct partner id of a batch is hashed once and the batch filtered to those that match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.auth.credentials import resource_id_of
from exhaust.lake.store import Lake
from exhaust.legacy.archive import EventChunk

TABLE = "telemetry"
COLUMNS = ("partner_id", "ets", "event_json")
# Events are JSON texts of a few hundred bytes: 8192 of them keep a chunk to a few MB.
BATCH_ROWS = 8192


class TelemetryReader:
    def __init__(self, lake: Lake, resource_id: str):
        self.lake = lake
        self.resource_id = resource_id
        self._hashes: dict[str, bool] = {}

    def _is_wanted(self, partner_id: str) -> bool:
        if partner_id not in self._hashes:
            self._hashes[partner_id] = resource_id_of(partner_id) == self.resource_id
        return self._hashes[partner_id]

    def events(self, day: dt.date) -> Iterator[EventChunk]:
        for batch in self.lake.scan(TABLE, COLUMNS, equals={"event_date": day}, batch_rows=BATCH_ROWS):
            partners = [p for p in pc.unique(batch.column("partner_id")).to_pylist() if p is not None]
            wanted = [partner for partner in partners if self._is_wanted(partner)]
            if not wanted:
                continue
            partner_rows = pc.is_in(batch.column("partner_id"), value_set=pa.array(wanted, pa.string()))
            # An event without its JSON has nothing to give the partner: it is skipped, not written as "null".
            mine = batch.filter(pc.and_(partner_rows, pc.is_valid(batch.column("event_json"))))
            if not mine.num_rows:
                continue
            # Only the chunk's earliest and latest times become Python objects, not one per event.
            times = pc.min_max(mine.column("ets"))
            yield EventChunk(mine.column("event_json").to_pylist(), times["min"].as_py(), times["max"].as_py())
