"""One batch of one dataset -> an encrypted zip (local path or S3). See exhaust.builders for the contract."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from exhaust.aes_zip import COMPRESS_LEVEL, BuiltFile, EncryptedCsvZip, S3Upload, ZipSink, ZipSummary
from exhaust.builders import BatchBuild, org_pii, progress, response, userinfo
from exhaust.builders.common import CHUNK_ROWS, FROM_INDEX, LIVE, RowsFrom
from exhaust.builders.errors import ConsentNotRequested, NoDataFound, RetiredCollection, UnknownDataset
from exhaust.builders.naming import file_stem
from exhaust.datasets.ids import ORG_PII_EXHAUST
from exhaust.lake.catalog import BatchInfo, Catalog
from exhaust.lake.extracts import check_indexed
from exhaust.lake.store import Lake
from exhaust.observability import logger


@dataclass(frozen=True)
class BatchZipSummary(ZipSummary):
    rows_from: str  # INDEX: the lines `exhaust lake index` stored; LIVE: computed from the lake's tables now


def header_and_chunks(
    build: BatchBuild, lake: Lake, chunk_rows: int
) -> tuple[list[str], RowsFrom, Iterator[tuple[pa.Buffer, int]]]:
    """The header, where the rows come from and the CSV chunks of one batch, after the checks that fail the
    batch permanently."""
    dataset_id, batch_id, channel = build.dataset_id, build.batch_id, build.channel
    if dataset_id == ORG_PII_EXHAUST:  # the organisation is the scope: no batch to look up
        return org_pii.header(), RowsFrom(LIVE), org_pii.rows(lake, channel, build.date, chunk_rows)
    batch: BatchInfo | None = Catalog(lake).batch(batch_id)
    if batch is None:
        raise NoDataFound()
    if batch.retired:
        raise RetiredCollection()
    if dataset_id == "progress-exhaust":
        check_indexed(lake)
        return progress.header(batch.collection), FROM_INDEX, progress.rows(lake, batch, chunk_rows)
    if dataset_id == "userinfo-exhaust":
        if not batch.requires_consent:
            raise ConsentNotRequested()
        return userinfo.header(), *userinfo.rows(lake, batch, channel, chunk_rows)
    if dataset_id == "response-exhaust":
        return response.header(), *response.rows(lake, batch, chunk_rows)
    raise UnknownDataset(f"Unknown dataset {dataset_id}")


def build_batch_zip(
    build: BatchBuild,
    target: Path | ZipSink,
    *,
    chunk_rows: int = CHUNK_ROWS,
    compresslevel: int = COMPRESS_LEVEL,
    on_rows: Callable[[int], None] | None = None,
) -> BatchZipSummary:
    """Write the batch's dataset into an AES-256 zip at `target` (a path or a sink); NoDataFound when it has no rows.

    `on_rows(rows_so_far)` is called after each chunk (progress reports, memory probes). A failed build leaves
    nothing at the target (the file removed, the upload aborted).
    """
    lake = build.lake if isinstance(build.lake, Lake) else Lake.open(build.lake)
    stem = file_stem(build.dataset_id, build.batch_id, build.date)
    labels, rows_from, chunks = header_and_chunks(build, lake, chunk_rows)
    if rows_from.why_live:
        logger.info(
            "building from the lake's tables",
            extra={"dataset": build.dataset_id, "batch_id": build.batch_id, "why": rows_from.why_live},
        )
    with EncryptedCsvZip(target, f"{stem}.csv", build.password, compresslevel) as archive:
        if build.csv_bom:
            archive.write_csv_bytes(codecs.BOM_UTF8, rows=0)
        archive.write_header(labels)
        for chunk, rows in chunks:
            archive.write_csv_bytes(chunk, rows=rows)
            if on_rows is not None:
                on_rows(archive.rows)
        if archive.rows == 0:
            raise NoDataFound()  # a zip with only a header is not a result: nothing is kept
    assert archive.summary is not None
    return BatchZipSummary(**vars(archive.summary), rows_from=rows_from.source)


def build_batch_file(
    build: BatchBuild,
    bucket: str,
    key_prefix: str,
    *,
    chunk_rows: int = CHUNK_ROWS,
    compresslevel: int = COMPRESS_LEVEL,
    on_rows: Callable[[int], None] | None = None,
) -> BuiltFile:
    """Build the batch's zip straight into an S3 multipart upload at `{key_prefix}{stem}.zip` (no local copy)."""
    stem = file_stem(build.dataset_id, build.batch_id, build.date)
    key = f"{key_prefix}{stem}.zip"
    summary = build_batch_zip(
        build,
        S3Upload(bucket, key),
        chunk_rows=chunk_rows,
        compresslevel=compresslevel,
        on_rows=on_rows,
    )
    return BuiltFile(
        name=f"{stem}.zip",
        key=key,
        rows=summary.rows,
        bytes=summary.bytes,
        sha256=summary.sha256,
        rows_from=summary.rows_from,
    )
