"""Read one partner's telemetry from the lake (imports pyarrow: loaded only to build an answer).

The telemetry table is sorted by (event_date, channel, partner_id, ets), so the footers alone say which row
groups can hold a day's events of a partner: their event_date range holds the day, and their partner_id range
is not a single other partner. The table names partners by id, the API by the SHA-1 of that id, so a partner id
(of the statistics, or of a decoded batch's dictionary) is hashed once and compared. The same footers give the
number of events a range may hold before anything is read (`estimated_events`), and each day's row groups are
read on their own, so days can be read in parallel (S3 ranged reads are what a month of events waits on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exhaust.auth.credentials import resource_id_of
from exhaust.lake.store import Lake
from exhaust.lake.text import text_bytes
from exhaust.legacy.archive import EventChunk

TABLE = "telemetry"
COLUMNS = ["event_date", "partner_id", "ets", "event_json"]
# Events are JSON texts of a few hundred bytes: 32,768 of them (a row group) keep a chunk to about 10 MB.
BATCH_ROWS = 32_768


@dataclass(frozen=True)
class RowGroup:
    path: str
    metadata: pq.FileMetaData
    index: int
    first_day: dt.date | None  # None: no statistics, any day
    last_day: dt.date | None
    rows: int

    def holds(self, day: dt.date) -> bool:
        return self.first_day is None or self.last_day is None or self.first_day <= day <= self.last_day


class TelemetryReader:
    def __init__(self, lake: Lake, resource_id: str):
        self.lake = lake
        self.resource_id = resource_id
        self._hashes: dict[str, bool] = {}
        self._row_groups: list[RowGroup] | None = None

    def _is_wanted(self, partner_id: str) -> bool:
        if partner_id not in self._hashes:
            self._hashes[partner_id] = resource_id_of(partner_id) == self.resource_id
        return self._hashes[partner_id]

    def row_groups(self) -> list[RowGroup]:
        """The row groups that may hold the partner's events, from the footers (read once, before any thread)."""
        if self._row_groups is None:
            kept = []
            for path, metadata in self.lake.files(TABLE):
                positions = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
                for index in range(metadata.num_row_groups):
                    row_group = metadata.row_group(index)
                    dates = row_group.column(positions["event_date"]).statistics
                    partners = row_group.column(positions["partner_id"]).statistics
                    if partners is not None and partners.has_min_max and partners.min == partners.max:
                        if not self._is_wanted(partners.min):
                            continue
                    known = dates is not None and dates.has_min_max
                    kept.append(
                        RowGroup(
                            path,
                            metadata,
                            index,
                            dates.min if known else None,
                            dates.max if known else None,
                            row_group.num_rows,
                        )
                    )
            self._row_groups = kept
        return self._row_groups

    def estimated_events(self, days: list[dt.date]) -> int:
        """An upper bound of the partner's events over these days: exact for row groups of the partner alone,
        whole row groups where partners share one."""
        return sum(group.rows for group in self.row_groups() if any(group.holds(day) for day in days))

    def events(self, day: dt.date) -> Iterator[EventChunk]:
        by_file: dict[str, list[RowGroup]] = {}
        for group in self.row_groups():
            if group.holds(day):
                by_file.setdefault(group.path, []).append(group)
        for path, groups in by_file.items():
            with self.lake.filesystem.open_input_file(path) as source:
                parquet = pq.ParquetFile(
                    source, metadata=groups[0].metadata, read_dictionary=["partner_id"], pre_buffer=True
                )
                indexes = [group.index for group in groups]
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=indexes, columns=COLUMNS):
                    chunk = self._chunk(batch, day)
                    if chunk is not None:
                        yield chunk

    def _chunk(self, batch: pa.RecordBatch, day: dt.date) -> EventChunk | None:
        partners = batch.column("partner_id")
        wanted = [partner for partner in partners.dictionary.to_pylist() if partner and self._is_wanted(partner)]
        if not wanted:
            return None
        # An event without its JSON has nothing to give the partner: it is skipped, not written as "null".
        mask = pc.and_(
            pc.and_(pc.equal(batch.column("event_date"), pa.scalar(day, pa.date32())), pc.is_valid(batch["event_json"])),
            pc.is_in(partners, value_set=pa.array(wanted, pa.string())),
        )
        mine = batch.filter(mask)
        if not mine.num_rows:
            return None
        # One event a line, as one buffer: no Python string per event.
        lines = pc.binary_join_element_wise(mine.column("event_json"), "\n", "")
        times = pc.min_max(mine.column("ets"))
        return EventChunk(text_bytes(lines), mine.num_rows, times["min"].as_py(), times["max"].as_py())
