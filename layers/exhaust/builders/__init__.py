"""The three on-demand datasets of seed 002's appendix, built from the lake one batch at a time.

The pipeline's build step calls, once per batch:

    build_batch_file(
        BatchBuild(
            dataset_id: str,    # "progress-exhaust" | "userinfo-exhaust" | "response-exhaust" | "org-pii-exhaust"
            batch_id: str,
            channel: str,       # the requesting org (the request's channel): it scopes userinfo consents
            password: str,      # the request's encryptionKey: the zip's AES-256 password (never in the repr)
            lake: Lake | str,   # a Lake or its root: "s3://bucket/prefix" or a directory
            date: datetime.date # the file name's yyyyMMdd
        ),
        bucket: str,            # where the zip goes
        key_prefix: str,        # e.g. "requests/{channel}/{requestId}/"
        *, chunk_rows=65_536, compresslevel=1,   # ISA-L deflate level, 0 (fastest) to 3 (smallest)
        on_rows=None,           # optional callback(rows written so far), called after each chunk
    ) -> BuiltFile              # name, key, rows, bytes, sha256 (exhaust.aes_zip), rows_from

and writes `{key_prefix}{batchId}_{progress|userinfo|response}_{yyyyMMdd}.zip`, a WinZip AES-256 zip holding
one CSV of the same name (.csv), streamed into an S3 multipart upload (no local copy). org-pii-exhaust has no batch:
the organisation is its scope, so its one unit of work is the channel, passed as `batch_id`
(`{channel}_org-pii_{yyyyMMdd}.zip`). `build_batch_zip(build, target)` does the same into a local path or any
exhaust.aes_zip.ZipSink.

`rows_from` says where the rows came from: "index", the finished lines `exhaust lake index` stored (always for
progress-exhaust; for userinfo- and response-exhaust while the lines' sources are the lake's current files), or
"live", computed from the lake's tables at this build (a consent loaded since the index counts at once).

Permanent failures raise exhaust.builders.errors (subclasses of exhaust.errors.ServiceError, `permanent`):
NoDataFound ("No data found": unknown batch, or no rows), RetiredCollection, ConsentNotRequested (userinfo on a
collection that does not ask for consent). Anything else is transient and may be retried.

This module itself does not import pyarrow (only calling the builders does), so the errors are cheap to import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exhaust.builders.errors import (
    BuildError,
    ConsentNotRequested,
    NoDataFound,
    RetiredCollection,
    UnknownDataset,
)
from exhaust.builders.naming import DATASET_SUFFIXES, file_stem

if TYPE_CHECKING:
    from exhaust.aes_zip import BuiltFile, ZipSink
    from exhaust.builders.build import BatchZipSummary
    from exhaust.lake.store import Lake

__all__ = [
    "DATASET_SUFFIXES",
    "BatchBuild",
    "BuildError",
    "ConsentNotRequested",
    "NoDataFound",
    "RetiredCollection",
    "UnknownDataset",
    "build_batch_file",
    "build_batch_zip",
    "file_stem",
]


@dataclass(frozen=True)
class BatchBuild:
    """What one build makes: one dataset's rows of one batch (or organisation), as one AES-256 zip of one date."""

    dataset_id: str
    batch_id: str
    channel: str
    password: str = field(repr=False)  # a partner's secret: never in a log line or a traceback
    lake: Lake | str
    date: dt.date
    # datasetConfig.csvBom: the CSV starts with a UTF-8 byte-order mark (for Excel); off, the seeds' exact bytes.
    csv_bom: bool = False


# The two entry points import exhaust.builders.build (and pyarrow) when called, not when this package is imported:
# the zip Lambdas import the errors, BatchBuild and the pipeline's default builder from here without pyarrow.
def build_batch_file(build: BatchBuild, bucket: str, key_prefix: str, **options: Any) -> BuiltFile:
    from exhaust.builders.build import build_batch_file as build_file

    return build_file(build, bucket, key_prefix, **options)


def build_batch_zip(build: BatchBuild, target: Path | ZipSink, **options: Any) -> BatchZipSummary:
    from exhaust.builders.build import build_batch_zip as build_zip

    return build_zip(build, target, **options)
