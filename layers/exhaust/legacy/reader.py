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
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
                    one_partner = partners is not None and partners.has_min_max and partners.min == partners.max
                    if one_partner and not self._is_wanted(partners.min):
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
            metadata = groups[0].metadata
            indexes = [group.index for group in groups]
            with self.lake.filesystem.open_input_file(path) as source:
                # The day's row groups in one ranged read: S3 answers one GET of a few MB about as fast as one
                # of a few KB, and a month of days is then 31 GETs, not one per column chunk.
                window = _Window.fetch(source, _span(metadata, indexes))
            parquet = pq.ParquetFile(pa.PythonFile(window, mode="r"), metadata=metadata, read_dictionary=["partner_id"])
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
            pc.and_(
                pc.equal(batch.column("event_date"), pa.scalar(day, pa.date32())), pc.is_valid(batch["event_json"])
            ),
            pc.is_in(partners, value_set=pa.array(wanted, pa.string())),
        )
        mine = batch.filter(mask)
        if not mine.num_rows:
            return None
        # One event a line, as one buffer: no Python string per event.
        lines = pc.binary_join_element_wise(mine.column("event_json"), "\n", "")
        times = pc.min_max(mine.column("ets"))
        return EventChunk(text_bytes(lines), mine.num_rows, times["min"].as_py(), times["max"].as_py())


def _span(metadata: pq.FileMetaData, indexes: list[int]) -> tuple[int, int]:
    """The bytes [start, end) of a file holding the COLUMNS' chunks of these row groups."""
    positions = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    starts, ends = [], []
    for index in indexes:
        row_group = metadata.row_group(index)
        for name in COLUMNS:
            chunk = row_group.column(positions[name])
            start = min(offset for offset in (chunk.dictionary_page_offset, chunk.data_page_offset) if offset)
            starts.append(start)
            ends.append(start + chunk.total_compressed_size)
    return min(starts), max(ends)


class _Window(io.RawIOBase):
    """A read-only file of which only the bytes [start, end) are known: what the Parquet reader then asks for."""

    def __init__(self, data: pa.Buffer, start: int, size: int):
        self.data = data
        self.start = start
        self.size = size
        self.position = 0

    @classmethod
    def fetch(cls, source: pa.NativeFile, span: tuple[int, int]) -> _Window:
        start, end = span
        return cls(source.read_at(end - start, start), start, source.size())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, target: Any) -> int:
        offset = self.position - self.start
        if offset < 0 or offset > len(self.data):
            raise OSError(f"read at {self.position} outside the bytes read ({self.start}..)")
        count = min(len(target), len(self.data) - offset)
        memoryview(target).cast("B")[:count] = memoryview(self.data)[offset : offset + count]
        self.position += count
        return count
