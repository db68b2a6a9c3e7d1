"""One export: check the parameters, stream the matching observations into a zip, answer it.

The data file is written into the zip entry one record batch at a time and the zip itself lives in a temporary
file, so memory stays bounded by one batch whatever the export's size. Only after the parameters are valid is
pyarrow loaded (exhaust.export.reader), so a refused call stays cheap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from exhaust.downloads import deliver_zip, fresh_lake, streamed_entry
from exhaust.export import datapackage
from exhaust.export.formats import WRITERS, Field
from exhaust.export.query import ExportQuery, parse_query
from exhaust.resources import EXPORTS_PREFIX
from exhaust.responses import RawResponse
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.lake.store import Lake

DATA_STEM = "observations"
DATAPACKAGE_FILE = "datapackage.json"

FIELDS: tuple[Field, ...] = (
    Field("_id", "int", "integer", "Row number in this export, from 1"),
    Field("observed_at", "timestamp", "datetime", "When the value was observed (UTC)"),
    Field("producer_type", "text", "string", "Kind of producer, e.g. sensor"),
    Field("producer_id", "text", "string", "The producer that observed the value"),
    Field("metric", "text", "string", "What was measured"),
    Field("unit", "text", "string", "Unit of measurement of value"),
    Field("value", "numeric", "number", "The observed value"),
)
LAKE_COLUMNS = tuple(field.id for field in FIELDS[1:])


class DigestingStream(io.RawIOBase):
    """Passes bytes through to `target`, counting them and hashing them for the data package."""

    def __init__(self, target: IO[bytes]):
        self.target = target
        self.size = 0
        self.sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.target.write(data)
        self.size += len(data)
        self.sha256.update(data)
        return len(data)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def export_filename(query: ExportQuery) -> str:
    first = query.date_from.date().isoformat() if query.date_from else "start"
    last = query.date_to.date().isoformat() if query.date_to else "end"
    return f"{DATA_STEM}_{query.format.lower()}_{first}_{last}.zip"


class ExportService:
    def __init__(
        self,
        lake_opener: Callable[[], Lake] | None = None,
        settings: RuntimeSettings | None = None,
        now: Callable[[], dt.datetime] = utc_now,
    ):
        self.settings = settings
        self._lake_opener = lake_opener
        self.now = now

    def lake(self) -> Lake:
        return fresh_lake(self._lake_opener, self.settings)

    def export(
        self,
        format_text: str,
        date_from: str | None = None,
        date_to: str | None = None,
        types: list[str] | None = None,
        units: list[str] | None = None,
    ) -> RawResponse:
        query = parse_query(format_text, date_from, date_to, types, units)

        from exhaust.export.reader import observation_rows

        batches = observation_rows(self.lake(), query, LAKE_COLUMNS)
        first = next(batches, None)
        if first is None:
            return RawResponse(204)
        filename = export_filename(query)
        settings = self.settings or get_settings()
        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / filename
            self._write_zip(path, query, itertools.chain([first], batches))
            return deliver_zip(path, filename=filename, key_prefix=EXPORTS_PREFIX, settings=settings)

    def _write_zip(self, path: Path, query: ExportQuery, batches: itertools.chain[list[tuple[object, ...]]]) -> None:
        writer_class = WRITERS[query.format]
        data_name = f"{DATA_STEM}.{writer_class.extension}"
        rows = 0
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            with archive.open(streamed_entry(data_name), "w", force_zip64=True) as entry:
                stream = DigestingStream(entry)
                writer = writer_class(stream, FIELDS)
                writer.begin()
                for batch in batches:
                    writer.write_rows([(rows + offset, *row) for offset, row in enumerate(batch, start=1)])
                    rows += len(batch)
                writer.end()
            package = datapackage.descriptor(
                fields=FIELDS,
                path=data_name,
                export_format=query.format,
                media_type=writer_class.media_type,
                rows=rows,
                file_bytes=stream.size,
                sha256=stream.sha256.hexdigest(),
                filters=query.describe(),
                created=self.now(),
            )
            archive.writestr(DATAPACKAGE_FILE, json.dumps(package, indent=2))
