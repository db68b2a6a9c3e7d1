"""CSV bytes -> a WinZip AES-256 zip, streamed to a local file or straight into an S3 multipart upload.

    with EncryptedCsvZip(S3Upload(bucket, key), "b1_progress_20260101.csv", password) as archive:
        archive.write_header(["Collection Id", ...])
        archive.write_csv_bytes(chunk, rows=n)   # or archive.write_rows(rows)
    archive.summary                              # -> ZipSummary(rows, bytes, sha256)

The zip holds one member: deflate (ISA-L, levels 0-3), encrypted as WinZip AE-2 specifies (AES-256 in CTR mode
with a little-endian counter, HMAC-SHA1 over the ciphertext, PBKDF2 keys; https://www.winzip.com/en/support/aes-encryption/),
Zip64 sizes in a data descriptor (APPNOTE 4.3.9) because the sizes are known only at the end and the output is
written once, front to back, never seeked. 7-Zip, WinRAR and pyzipper open it; the entry is dated with the
build time.

Speed: the CSV is cut into blocks that a thread pool (one worker per usable CPU) deflates in parallel (ISA-L
releases the GIL); each block ends with a sync flush, so the blocks concatenate into one deflate stream, as
pigz does. One writer thread encrypts, authenticates, hashes and sends the compressed blocks in order, so the
caller computes its next chunk meanwhile. Memory: at most `PENDING_BLOCKS` blocks of CSV in flight, plus the
upload's parts; nothing is copied to local disk on the way to S3.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import os
import queue
import secrets
import struct
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from isal import isal_zlib
from typing_extensions import Buffer

# ISA-L's levels: 0 fastest ... 3 smallest (about zlib's 6). Level 1 packs CSV at several hundred MB/s per
# core for about a third more bytes than level 3 (docs/benchmarks.md measures the trade-off).
COMPRESS_LEVELS = range(0, 4)
COMPRESS_LEVEL = 1
BLOCK_BYTES = 2 * 1024 * 1024
PENDING_BLOCKS = 24

# S3 multipart limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): parts of 5 MiB at
# least (except the last) and 10,000 parts at most.
S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000
MULTIPART_CHUNK_BYTES = 16 * 1024 * 1024
_UPLOADS_IN_FLIGHT = 2

# WinZip AE-2 (see the module docstring): AES-256 key strength 3, 16-byte salt, 1000 PBKDF2-SHA1 rounds, a
# 2-byte password verifier and the first 10 bytes of the HMAC as the authentication code.
_AES_STRENGTH = 3
_AES_KEY_BYTES = 32
_SALT_BYTES = 16
_PBKDF2_ROUNDS = 1000
_AUTH_CODE_BYTES = 10
_AE_2 = 2
_METHOD_AES = 99
_METHOD_DEFLATE = 8
_VERSION_AES = 51  # APPNOTE 4.4.3: AES encryption needs 5.1
_FLAG_ENCRYPTED, _FLAG_DATA_DESCRIPTOR, _FLAG_UTF8 = 0x1, 0x8, 0x800
_ZIP64_MARK_32, _ZIP64_MARK_16 = 0xFFFFFFFF, 0xFFFF
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a final, empty fixed-Huffman deflate block: ends the stream
_END = None


def usable_cpus() -> int:
    """CPUs this process may run on (Lambda gives 1 vCPU per 1,769 MB of memory, up to 6)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class BuiltFile:
    """One packaged zip the build step answers: its name, key, rows, bytes and sha256."""

    name: str
    key: str
    rows: int
    bytes: int
    sha256: str
    rows_from: str = "live"  # "index": the lines `exhaust lake index` stored (exhaust.builders)


@dataclass(frozen=True)
class ZipSummary:
    rows: int
    bytes: int
    sha256: str


class ZipSink(Protocol):
    """Where the zip's bytes go, in order: `write` many times, then `close` (or `abort` after a failure)."""

    def write(self, data: Buffer) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class FileSink:
    """A local file (tests, the benchmark, `build_batch_zip`); removed again when the build fails."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = self.path.open("wb")

    def write(self, data: Buffer) -> None:
        self._file.write(data)

    def close(self) -> None:
        self._file.close()

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class S3Upload:
    """An S3 object written as a multipart upload in parts of `part_bytes`, each sent while the next fills.

    Nothing is stored until `close` completes the upload; `abort` (or a failed part) aborts it, so a failed build
    leaves no object and no billed parts. An object smaller than one part is sent with a single PutObject.
    """

    def __init__(self, bucket: str, key: str, *, part_bytes: int = MULTIPART_CHUNK_BYTES):
        if not key.endswith(".zip"):
            raise ValueError(f"only encrypted zips are uploaded, not {key!r}")
        if part_bytes < S3_MIN_PART_BYTES:
            raise ValueError(f"S3 parts are {S3_MIN_PART_BYTES} bytes at least, not {part_bytes}")
        # Imported here: boto3 costs ~0.2 s to import, which building into a local file does not need.
        from exhaust import aws

        self.bucket, self.key, self.part_bytes = bucket, key, part_bytes
        self._s3 = aws.client("s3")
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._senders = ThreadPoolExecutor(max_workers=_UPLOADS_IN_FLIGHT, thread_name_prefix="s3-part")

    def write(self, data: Buffer) -> None:
        self._buffer += data
        while len(self._buffer) >= self.part_bytes:
            part = bytes(self._buffer[: self.part_bytes])
            del self._buffer[: self.part_bytes]
            self._send(part)

    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, ContentType="application/zip")
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        if number > S3_MAX_PARTS:
            raise ValueError(f"an S3 upload has {S3_MAX_PARTS} parts at most: use larger parts")
        # At most two parts wait to be sent: the oldest must be done before a third is queued (bounded memory).
        if len(self._parts) >= _UPLOADS_IN_FLIGHT:
            self._parts[-_UPLOADS_IN_FLIGHT].result()
        self._parts.append(self._senders.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, part: bytes) -> dict[str, Any]:
        answer = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def close(self) -> None:
        try:
            if self._upload_id is None:
                self._s3.put_object(
                    Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType="application/zip"
                )
                return
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer.clear()
            parts = [sent.result() for sent in self._parts]
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.abort()
            raise
        finally:
            self._senders.shutdown(wait=True)

    def abort(self) -> None:
        self._senders.shutdown(wait=True, cancel_futures=True)
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None


class _HashingSink:
    """Counts and hashes (sha256) every byte on its way to the real sink."""

    def __init__(self, sink: ZipSink):
        self.sink, self.size, self.digest = sink, 0, hashlib.sha256()

    def write(self, data: Buffer) -> None:
        self.size += len(memoryview(data))
        self.digest.update(data)
        self.sink.write(data)


class _CounterModeCipher:
    """AES-256-CTR with WinZip's counter: a 16-byte little-endian block number starting at 1.

    OpenSSL's CTR counts big-endian, so the keystream is AES-ECB of the counter blocks, built from a template of
    65,536 blocks whose high bytes are set per group; the XOR runs in Arrow, 64 bits at a time.
    """

    _GROUP = 1 << 16
    _TEMPLATE = b"".join(number.to_bytes(16, "little") for number in range(1 << 16))

    def __init__(self, key: bytes):
        # ECB of distinct counter blocks is CTR's keystream, not ECB encryption of data.
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        self._next_block = 1
        self._spare = b""  # keystream left over from the last call's partial block

    def _keystream(self, size: int) -> bytes:
        pieces, available = [self._spare], len(self._spare)
        while available < size:
            group, first = divmod(self._next_block, self._GROUP)
            count = min(self._GROUP - first, -(-(size - available) // 16))
            counters = bytearray(self._TEMPLATE[first * 16 : (first + count) * 16])
            for position, value in enumerate(group.to_bytes(14, "little"), start=2):
                if value:
                    counters[position::16] = bytes((value,)) * count
            pieces.append(self._ecb.update(bytes(counters)))
            available += count * 16
            self._next_block += count
        stream = b"".join(pieces)
        self._spare = stream[size:]
        return stream[:size]

    def encrypt(self, data: bytes) -> bytes:
        size = len(data)
        if not size:
            return b""
        padded = -(-size // 8) * 8
        words = padded // 8
        keystream = self._keystream(size) + bytes(padded - size)
        plain = pa.Array.from_buffers(pa.uint64(), words, [None, pa.py_buffer(data + bytes(padded - size))])
        key = pa.Array.from_buffers(pa.uint64(), words, [None, pa.py_buffer(keystream)])
        mixed = pc.bit_wise_xor(plain, key).buffers()[1]
        assert mixed is not None
        return mixed.to_pybytes()[:size]


def _dos_date_time(moment: dt.datetime) -> tuple[int, int]:
    """The zip's MS-DOS date and time fields (2-second resolution, years 1980-2107)."""
    moment = min(
        max(moment, dt.datetime(1980, 1, 1, tzinfo=moment.tzinfo)), dt.datetime(2107, 12, 31, tzinfo=moment.tzinfo)
    )
    date = (moment.year - 1980) << 9 | moment.month << 5 | moment.day
    time = moment.hour << 11 | moment.minute << 5 | moment.second // 2
    return date, time


def _deflate_block(level: int, block: Buffer) -> bytes:
    compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    return compressor.compress(block) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)


class EncryptedCsvZip:
    """A zip holding one CSV member, AES-256 encrypted with `password`, written in chunks to `target`.

    `target` is a path (a local file) or a ZipSink such as S3Upload. `modified` dates the entry (default: now,
    UTC). `workers` deflate in parallel (default: every usable CPU).
    """

    def __init__(
        self,
        target: Path | str | ZipSink,
        member_name: str,
        password: str,
        compresslevel: int = COMPRESS_LEVEL,
        *,
        modified: dt.datetime | None = None,
        workers: int | None = None,
    ):
        if not password:
            raise ValueError("an encrypted zip needs a password")
        if compresslevel not in COMPRESS_LEVELS:
            raise ValueError(f"compression level {compresslevel} is not one of 0-3")
        self.target = target
        self.member_name = member_name
        self.password = password
        self.compresslevel = compresslevel
        self.modified = (modified or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self.workers = workers or usable_cpus()
        self.rows = 0
        self.summary: ZipSummary | None = None
        self._csv_bytes = 0
        self._failure: list[BaseException] = []

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def __enter__(self) -> EncryptedCsvZip:
        self._sink = FileSink(Path(self.target)) if isinstance(self.target, str | Path) else self.target
        self._out = _HashingSink(self._sink)
        try:
            salt = secrets.token_bytes(_SALT_BYTES)
            keys = hashlib.pbkdf2_hmac(
                "sha1", self.password.encode("utf-8"), salt, _PBKDF2_ROUNDS, 2 * _AES_KEY_BYTES + 2
            )
            self._cipher = _CounterModeCipher(keys[:_AES_KEY_BYTES])
            self._mac = hmac.new(keys[_AES_KEY_BYTES : 2 * _AES_KEY_BYTES], digestmod=hashlib.sha1)
            self._out.write(self._local_header())
            self._out.write(salt + keys[2 * _AES_KEY_BYTES :])
        except BaseException:
            self._sink.abort()
            raise
        self._data_start = self._out.size - _SALT_BYTES - 2
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="zip-deflate")
        self._blocks: queue.Queue[Future[bytes] | None] = queue.Queue(maxsize=PENDING_BLOCKS)
        self._writer = threading.Thread(target=self._write_blocks, name="zip-writer", daemon=True)
        self._writer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self._blocks.put(_END)
            self._writer.join()
            self._pool.shutdown(wait=True, cancel_futures=True)
            if kind is None and self._failure:
                raise self._failure[0]
            if kind is None:
                self._finish()
                self._sink.close()
                self.summary = ZipSummary(self.rows, self._out.size, self._out.digest.hexdigest())
        except BaseException:
            self._sink.abort()
            raise
        if kind is not None:
            self._sink.abort()

    # ---- writing -------------------------------------------------------------------------------------------
    def write_csv_bytes(self, chunk: Buffer, *, rows: int) -> None:
        """Append already encoded CSV lines (UTF-8, CRLF; bytes or any bytes-like) holding `rows` data rows.

        The chunk must stay unchanged until the zip is closed (Arrow buffers and bytes do).
        """
        view = memoryview(chunk).cast("B")
        for start in range(0, len(view), BLOCK_BYTES):
            if self._failure:
                raise self._failure[0]
            self._blocks.put(self._pool.submit(_deflate_block, self.compresslevel, view[start : start + BLOCK_BYTES]))
        self._csv_bytes += len(view)
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

    def _write_blocks(self) -> None:
        try:
            while (block := self._blocks.get()) is not _END:
                self._write_compressed(block.result())
        except BaseException as error:  # re-raised on the caller's thread
            self._failure.append(error)
            while self._blocks.get() is not _END:  # let the producer finish instead of blocking on put
                pass

    def _write_compressed(self, compressed: bytes) -> None:
        encrypted = self._cipher.encrypt(compressed)
        self._mac.update(encrypted)
        self._out.write(encrypted)

    def _finish(self) -> None:
        self._write_compressed(_FINAL_EMPTY_BLOCK)
        self._out.write(self._mac.digest()[:_AUTH_CODE_BYTES])
        compressed = self._out.size - self._data_start
        self._out.write(struct.pack("<IIQQ", 0x08074B50, 0, compressed, self._csv_bytes))
        directory_start = self._out.size
        self._out.write(self._central_header(compressed, self._csv_bytes))
        directory_end = self._out.size
        self._out.write(
            struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                _VERSION_AES,
                _VERSION_AES,
                0,
                0,
                1,
                1,
                directory_end - directory_start,
                directory_start,
            )
        )
        self._out.write(struct.pack("<IIQI", 0x07064B50, 0, directory_end, 1))
        self._out.write(
            struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, _ZIP64_MARK_16, _ZIP64_MARK_16, _ZIP64_MARK_32, _ZIP64_MARK_32, 0
            )
        )

    # ---- zip records ---------------------------------------------------------------------------------------
    @property
    def _flags(self) -> int:
        utf8 = _FLAG_UTF8 if not self.member_name.isascii() else 0
        return _FLAG_ENCRYPTED | _FLAG_DATA_DESCRIPTOR | utf8

    def _aes_and_time_extras(self) -> bytes:
        aes = struct.pack("<HHH2sBH", 0x9901, 7, _AE_2, b"AE", _AES_STRENGTH, _METHOD_DEFLATE)
        # The "extended timestamp" (0x5455): the modification time in UTC seconds, unlike the DOS local time.
        unix_time = struct.pack("<HHBI", 0x5455, 5, 1, int(self.modified.timestamp()))
        return aes + unix_time

    def _local_header(self) -> bytes:
        name = self.member_name.encode("utf-8")
        zip64 = struct.pack("<HHQQ", 0x0001, 16, 0, 0)  # sizes follow in the data descriptor
        extra = zip64 + self._aes_and_time_extras()
        date, time = _dos_date_time(self.modified)
        fixed = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, _VERSION_AES, self._flags, _METHOD_AES, time, date, 0,
            _ZIP64_MARK_32, _ZIP64_MARK_32, len(name), len(extra),
        )  # fmt: skip
        return fixed + name + extra

    def _central_header(self, compressed: int, uncompressed: int) -> bytes:
        name = self.member_name.encode("utf-8")
        zip64 = struct.pack("<HHQQQ", 0x0001, 24, uncompressed, compressed, 0)
        extra = zip64 + self._aes_and_time_extras()
        date, time = _dos_date_time(self.modified)
        unix_file = 0o100644 << 16  # a regular file, rw-r--r--, for unzip on Unix
        fixed = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 3 << 8 | _VERSION_AES, _VERSION_AES, self._flags, _METHOD_AES,
            time, date, 0, _ZIP64_MARK_32, _ZIP64_MARK_32, len(name), len(extra), 0, 0, 0, unix_file,
            _ZIP64_MARK_32,
        )  # fmt: skip
        return fixed + name + extra


def encode_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 lines (CRLF, quotes doubled, fields quoted when needed), UTF-8; None is an empty field."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode("utf-8")
