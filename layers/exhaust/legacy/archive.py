"""The legacy answer: a zip holding one `{yyyy-mm-dd}.zip` per day of the range and a `manifest.json`.

Each day's zip holds `events.jsonl` (that day's events of the partner, one JSON event a line) and its own
`manifest.json` (counts, first and last event time, files). Days without events are present: their zip holds
an empty `events.jsonl` and a manifest that says `"empty": true`. Everything streams through temporary files,
so memory stays bounded whatever the volume of a day. Day zips are built in threads (reading a day waits on the
lake; compressing it releases the GIL) and put into the outer zip in date order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exhaust.digests import file_sha256
from exhaust.downloads import FAST_DEFLATE_LEVEL, in_order_threaded, streamed_entry

EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class EventChunk:
    """Some of a day's events: `count` JSON texts as UTF-8, each ending in a newline, with the earliest and latest
    event time among them."""

    lines: bytes | memoryview
    count: int
    first: dt.datetime | None
    last: dt.datetime | None


# A day's events, a chunk at a time (one record batch of the lake), in any order.
DayEvents = Iterable[EventChunk]


@dataclass
class DaySummary:
    date: dt.date
    event_count: int = 0
    first_event: dt.datetime | None = None
    last_event: dt.datetime | None = None
    events_bytes: int = 0
    events_sha256: str = ""

    def see(self, count: int, first: dt.datetime | None, last: dt.datetime | None) -> None:
        self.event_count += count
        if first is not None and (self.first_event is None or first < self.first_event):
            self.first_event = first
        if last is not None and (self.last_event is None or last > self.last_event):
            self.last_event = last

    def describe(self) -> dict[str, Any]:
        empty = self.event_count == 0
        return {
            "date": self.date.isoformat(),
            "eventCount": self.event_count,
            "firstEventTime": _iso(self.first_event),
            "lastEventTime": _iso(self.last_event),
            "empty": empty,
            **({"note": "No events for this day"} if empty else {}),
        }


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_day_zip(path: Path, day: dt.date, events: DayEvents, context: dict[str, str]) -> DaySummary:
    summary = DaySummary(day)
    digest = hashlib.sha256()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(streamed_entry(EVENTS_FILE, FAST_DEFLATE_LEVEL), "w") as out:
            for chunk in events:
                if not chunk.count:
                    continue
                out.write(chunk.lines)
                digest.update(chunk.lines)
                summary.events_bytes += len(chunk.lines)
                summary.see(chunk.count, chunk.first, chunk.last)
        summary.events_sha256 = digest.hexdigest()
        manifest = {
            **context,
            **summary.describe(),
            "files": [
                {
                    "name": EVENTS_FILE,
                    "format": "jsonl",
                    "events": summary.event_count,
                    "bytes": summary.events_bytes,
                    "sha256": summary.events_sha256,
                }
            ],
        }
        archive.writestr(MANIFEST_FILE, json.dumps(manifest, indent=2))
    return summary


def write_archive(
    path: Path,
    days: list[dt.date],
    events_of_day: Callable[[dt.date], DayEvents],
    context: dict[str, str],
    generated_at: dt.datetime | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Write the zip of per-day zips to `path`, building `threads` days at a time; answer its manifest (also
    stored in it)."""
    entries: list[dict[str, Any]] = []
    totals = DaySummary(days[0])
    with tempfile.TemporaryDirectory() as work, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as outer:

        def day_zip(day: dt.date) -> tuple[Path, DaySummary, str]:
            day_path = Path(work) / f"{day.isoformat()}.zip"
            summary = write_day_zip(day_path, day, events_of_day(day), context)
            return day_path, summary, file_sha256(day_path)

        for day_path, summary, sha256 in in_order_threaded(day_zip, days, threads):
            # The day zips are compressed already: stored as they are.
            outer.write(day_path, day_path.name)
            entries.append(
                {**summary.describe(), "file": day_path.name, "bytes": day_path.stat().st_size, "sha256": sha256}
            )
            totals.see(summary.event_count, summary.first_event, summary.last_event)
            day_path.unlink()
        manifest = {
            **context,
            "fromDate": days[0].isoformat(),
            "toDate": days[-1].isoformat(),
            "generatedAt": _iso(generated_at or dt.datetime.now(dt.UTC)),
            "eventCount": totals.event_count,
            "firstEventTime": _iso(totals.first_event),
            "lastEventTime": _iso(totals.last_event),
            "days": entries,
        }
        outer.writestr(MANIFEST_FILE, json.dumps(manifest, indent=2))
    return manifest
