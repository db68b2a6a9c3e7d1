"""CSV rows -> WinZip AES-256 zip (pyzipper) -> S3, with bounded memory and no unencrypted copy in S3.

    with EncryptedCsvZip(path, member_name="b1_progress_20260101.csv", password="...") as archive:
        archive.write_header(["Collection Id", ...])
        archive.write_rows(rows)            # or archive.write_csv_bytes(chunk, rows=n) for pre-encoded chunks
    record = upload_zip(path, bucket, key)  # -> BuiltFile(name, key, rows, bytes, sha256)
    write_manifest(bucket, key_prefix, [record, ...])  # {key_prefix}manifest.json

The zip is spooled to a temporary file on local disk (Lambda's /tmp, up to 10 GiB) and uploaded with multipart
above 16 MiB; only that encrypted file ever leaves the machine. Compression and encryption run on a second
thread fed through a short queue, so the caller computes the next chunk while the previous one is compressed
(zlib and the AES cipher release the GIL) and memory stays at a few chunks whatever the file size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pyzipper
from typing_extensions import Buffer

COMPRESS_LEVEL = 6
MULTIPART_CHUNK_BYTES = 16 * 1024 * 1024
_QUEUE_CHUNKS = 2
_END = None


@dataclass(frozen=True)
class BuiltFile:
    """One packaged file as the request's manifest lists it."""

    name: str
    key: str
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ZipSummary:
    path: Path
    rows: int
    bytes: int
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class EncryptedCsvZip:
    """A zip at `path` holding one CSV member, AES-256 encrypted with `password`, written in chunks."""

    path: Path
    member_name: str
    password: str
    compresslevel: int = COMPRESS_LEVEL
    rows: int = 0
    summary: ZipSummary | None = None
    _chunks: queue.Queue[Buffer | None] = field(default_factory=lambda: queue.Queue(maxsize=_QUEUE_CHUNKS))
    _failure: list[BaseException] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not self.password:
            raise ValueError("an encrypted zip needs a password")
        self.path = Path(self.path)

    def __enter__(self) -> EncryptedCsvZip:
        self._thread = threading.Thread(target=self._compress, name="zip-writer", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._finish()
        if kind is None:
            self.summary = ZipSummary(self.path, self.rows, self.path.stat().st_size, sha256_of(self.path))

    def _compress(self) -> None:
        try:
            with pyzipper.AESZipFile(
                self.path,
                "w",
                compression=pyzipper.ZIP_DEFLATED,
                compresslevel=self.compresslevel,
                encryption=pyzipper.WZ_AES,
            ) as archive:
                archive.setpassword(self.password.encode("utf-8"))
                archive.setencryption(pyzipper.WZ_AES, nbits=256)
                with archive.open(self.member_name, "w", force_zip64=True) as member:
                    while (chunk := self._chunks.get()) is not _END:
                        member.write(chunk)
        except BaseException as error:  # re-raised on the caller's thread
            self._failure.append(error)
            while self._chunks.get() is not _END:  # let the producer finish instead of blocking on put
                pass

    def _put(self, chunk: Buffer | None) -> None:
        if self._failure:
            raise self._failure[0]
        self._chunks.put(chunk)

    def _finish(self) -> None:
        if self._thread is None:
            return
        self._chunks.put(_END)
        self._thread.join()
        self._thread = None
        if self._failure:
            raise self._failure[0]

    def write_csv_bytes(self, chunk: Buffer, *, rows: int) -> None:
        """Append already encoded CSV lines (UTF-8, CRLF; bytes or any bytes-like) holding `rows` data rows."""
        if len(memoryview(chunk)):
            self._put(chunk)
        self.rows += rows

    def write_header(self, labels: Sequence[str]) -> None:
        self.write_csv_bytes(encode_rows([labels]), rows=0)

    def write_rows(self, rows: Iterable[Sequence[Any]], chunk_rows: int = 10_000) -> None:
        pending: list[Sequence[Any]] = []
        for row in rows:
            pending.append(row)
            if len(pending) >= chunk_rows:
                self.write_csv_bytes(encode_rows(pending), rows=len(pending))
                pending = []
        if pending:
            self.write_csv_bytes(encode_rows(pending), rows=len(pending))


def encode_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 lines (CRLF, quotes doubled, fields quoted when needed), UTF-8; None is an empty field."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode("utf-8")


def upload_zip(summary: ZipSummary, bucket: str, key: str, *, part_bytes: int = MULTIPART_CHUNK_BYTES) -> BuiltFile:
    """Upload an encrypted zip (multipart in parts of `part_bytes`, 16 MiB) and answer its manifest record."""
    # Imported here: boto3 (urllib3) probes the network stack on import, which building a zip does not need.
    from boto3.s3.transfer import TransferConfig

    from exhaust import aws

    if not key.endswith(".zip"):
        raise ValueError(f"only encrypted zips are uploaded, not {key!r}")
    config = TransferConfig(multipart_threshold=part_bytes, multipart_chunksize=part_bytes, max_concurrency=4)
    aws.client("s3").upload_file(
        str(summary.path), bucket, key, ExtraArgs={"ContentType": "application/zip"}, Config=config
    )
    return BuiltFile(
        name=key.rsplit("/", 1)[-1], key=key, rows=summary.rows, bytes=summary.bytes, sha256=summary.sha256
    )


def manifest_key(key_prefix: str) -> str:
    return f"{key_prefix}manifest.json"


def write_manifest(bucket: str, key_prefix: str, files: Sequence[BuiltFile]) -> str:
    """Write `{key_prefix}manifest.json` listing the files (name, key, rows, bytes, sha256); answer its key."""
    body = {
        "files": [record.to_dict() for record in files],
        "totalRows": sum(record.rows for record in files),
        "totalBytes": sum(record.bytes for record in files),
    }
    from exhaust import aws

    key = manifest_key(key_prefix)
    aws.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(body, indent=2).encode("utf-8"),
        ContentType="application/json",
    )
    return key
