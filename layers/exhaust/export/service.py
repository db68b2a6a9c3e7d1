"""One export: check the parameters, estimate the size, stream the matching observations into a zip, answer it.

The data file is written into the zip entry one record batch at a time and the zip itself lives in a temporary
file, so memory stays bounded by a few batches whatever the export's size. Batches are encoded in threads and
written in order. Only after the parameters are valid is pyarrow loaded (exhaust.export.reader), and an export
whose row count (from the Parquet footers) is over its format's limit is refused before any row is read, so a
refused call stays cheap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from exhaust.downloads import (
    API_GATEWAY_TIMEOUT_SECONDS,
    FAST_DEFLATE_LEVEL,
    deliver_zip,
    fresh_lake,
    in_order_threaded,
    streamed_entry,
)
from exhaust.export import datapackage
from exhaust.export.errors import ExportTooLarge, UnknownFilterValue
from exhaust.export.fields import Field
from exhaust.export.query import ExportQuery, parse_query
from exhaust.resources import EXPORTS_PREFIX
from exhaust.responses import RawResponse
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    import pyarrow as pa

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

# The most rows one synchronous export holds, per format: what bench/bench_answers.py measured to be built and
# delivered well within API Gateway's API_GATEWAY_TIMEOUT_SECONDS on one vCPU (the function's 1,769 MB): 11-13
# CPU seconds for 6,000,000 rows as CSV or JSON; XML, 2.5 times the bytes, 16.5 s for 6,000,000, so at most 4,000,000
# (docs/benchmarks.md, "Legacy and export").
MAX_SYNC_ROWS = {"CSV": 6_000_000, "JSON": 6_000_000, "XML": 4_000_000}
ENCODING_THREADS = max(2, min(4, os.cpu_count() or 1))


class DigestingStream:
    """Passes bytes through to `target`, counting them and hashing them for the data package (a ByteSink)."""

    def __init__(self, target: IO[bytes]):
        self.target = target
        self.size = 0
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes | memoryview, /) -> int:
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

        from exhaust.export.reader import estimated_rows, observation_batches

        lake = self.lake()
        refuse_if_too_large(query, estimated_rows(lake, query))
        batches = observation_batches(lake, query, LAKE_COLUMNS)
        first = next(batches, None)
        if first is None:
            refuse_unknown_values(lake, query)
            return RawResponse(204)
        filename = export_filename(query)
        settings = self.settings or get_settings()
        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / filename
            self._write_zip(path, query, itertools.chain([first], batches))
            return deliver_zip(path, filename=filename, key_prefix=EXPORTS_PREFIX, settings=settings)

    def _write_zip(self, path: Path, query: ExportQuery, batches: itertools.chain[pa.RecordBatch]) -> None:
        import pyarrow as pa

        from exhaust.export.formats import WRITERS

        writer_class = WRITERS[query.format]
        data_name = f"{DATA_STEM}.{writer_class.extension}"
        rows = 0

        def numbered(batch: pa.RecordBatch) -> pa.RecordBatch:
            nonlocal rows
            numbers = pa.array(range(rows + 1, rows + batch.num_rows + 1), pa.int64())
            rows += batch.num_rows
            return pa.RecordBatch.from_arrays([numbers, *batch.columns], names=[field.id for field in FIELDS])

        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            entry_info = streamed_entry(data_name, FAST_DEFLATE_LEVEL)
            with archive.open(entry_info, "w", force_zip64=True) as entry:
                stream = DigestingStream(entry)
                writer = writer_class(stream, FIELDS)
                writer.begin()
                for data in in_order_threaded(writer.encode, map(numbered, batches), ENCODING_THREADS):
                    writer.write_encoded(data)
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


# At most this many existing values are named in a refusal (the rest are counted).
NAMED_VALUES = 20


def refuse_unknown_values(lake: Lake, query: ExportQuery) -> None:
    """An empty export whose types or units name a value no observation has is a typo, not "no rows": say so, with
    the values that exist (looked up only then, so a matching export costs nothing more)."""
    from exhaust.export.reader import existing_values

    for parameter, column, asked in (("types", "producer_type", query.types), ("units", "unit", query.units)):
        if not asked:
            continue
        existing = existing_values(lake, column)
        unknown = [value for value in asked if value not in existing]
        if unknown:
            shown = ", ".join(existing[:NAMED_VALUES]) + (f" (and {len(existing) - NAMED_VALUES} more)"
                                                           if len(existing) > NAMED_VALUES else "")  # fmt: skip
            raise UnknownFilterValue(
                f"{parameter}: no observation has {', '.join(repr(v[:40]) for v in unknown[:5])}; "
                f"existing values: {shown or 'none'}"
            )


def refuse_if_too_large(query: ExportQuery, estimated: int) -> None:
    """EXPORT_TOO_LARGE (422) when the footers say the export may hold more rows than its format's limit."""
    limit = MAX_SYNC_ROWS[query.format]
    if estimated <= limit:
        return
    narrower = "" if query.format == "CSV" else f", or ask for CSV (up to {MAX_SYNC_ROWS['CSV']:,} rows)"
    raise ExportTooLarge(
        f"This export may hold up to {estimated:,} rows; one {query.format} export holds at most {limit:,}, "
        f"what can be answered within API Gateway's {API_GATEWAY_TIMEOUT_SECONDS} s. Narrow date_from and "
        f"date_to (split the range into several exports){narrower}"
    )
