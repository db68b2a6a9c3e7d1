"""Answer a zip built on disk: inline when it fits in a Lambda response, else a 303 to a presigned link.

A synchronous Lambda answer is capped at 6 MB, and a binary body is base64-encoded in it (a third bigger), so
only zips up to `max_inline_download_bytes` (3.75 MB by default) travel inline. Bigger ones are uploaded under
a prefix of the exhaust bucket and answered `303 See Other` with `Location:` a presigned GET link, which
`curl -L`, browsers and HTTP clients follow (a POST is followed with a GET, as the link needs).
"""

from __future__ import annotations

import datetime as dt
import errno
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from exhaust import aws, aws_limits
from exhaust.requests.adapters import LinkSigner
from exhaust.responses import RawResponse
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.lake.store import Lake

ZIP_CONTENT_TYPE = "application/zip"
# Deflate's fastest level: about three times the speed of the default (6) for 20-40 % more bytes, which is what
# lets a big synchronous answer be compressed within API Gateway's wait.
FAST_DEFLATE_LEVEL = 1

Item = TypeVar("Item")
Result = TypeVar("Result")


def fresh_lake(opener: Callable[[], Lake] | None, settings: RuntimeSettings | None) -> Lake:
    """The lake, opened afresh for each answer: a Lake caches its file list and footers, which the daily rewrite
    of a table would make stale in a warm Lambda. pyarrow is loaded here, only once an answer is being built."""
    if opener is not None:
        return opener()
    from exhaust.lake.store import Lake

    return Lake.open((settings or get_settings()).lake_uri)


def streamed_entry(name: str, level: int | None = None) -> zipfile.ZipInfo:
    """The header of a zip entry written as a stream: compressed, dated now (ZipFile.open says 1980-01-01), at
    deflate's default level unless `level` says otherwise."""
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now(dt.UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    if level is not None:
        info._compresslevel = level  # type: ignore[attr-defined]  # what ZipFile.open(info, "w") compresses at
    return info


def in_order_threaded(work: Callable[[Item], Result], items: Iterable[Item], threads: int) -> Iterator[Result]:
    """`work(item)` for each item, run in `threads` threads, answered in the items' order.

    At most twice `threads` items are in flight, so a long input is never read ahead whole. Worth it for work
    that releases the GIL (Arrow kernels, zlib, S3 reads).
    """
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[Future[Result]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def object_key(prefix: str, filename: str, today: dt.date | None = None) -> str:
    """`{prefix}{yyyy-mm-dd}/{random}/{filename}`: unguessable, and grouped by day for lifecycle rules."""
    today = today or dt.datetime.now(dt.UTC).date()
    return f"{prefix}{today.isoformat()}/{uuid.uuid4().hex}/{filename}"


def deliver_zip(path: Path, *, filename: str, key_prefix: str, settings: RuntimeSettings | None = None) -> RawResponse:
    settings = settings or get_settings()
    size = path.stat().st_size
    refuse_beyond_tmp(path, size)
    if size <= settings.max_inline_download_bytes:
        return RawResponse(
            200,
            path.read_bytes(),
            {"Content-Type": ZIP_CONTENT_TYPE, "Content-Disposition": f'attachment; filename="{filename}"'},
        )
    key = object_key(key_prefix, filename)
    # upload_file streams the file in parts: the zip is never held in memory.
    aws.client("s3").upload_file(str(path), settings.exhaust_bucket, key, ExtraArgs={"ContentType": ZIP_CONTENT_TYPE})
    signer = LinkSigner(settings.exhaust_bucket, settings.link_expiry_seconds)
    return RawResponse(303, b"", {"Location": signer.sign(key, filename), "Cache-Control": "no-store"})


def refuse_beyond_tmp(path: Path, size: int) -> None:
    """The error Lambda gives a zip that outgrows the function's /tmp (local disks are bigger): ENOSPC."""
    if size > aws_limits.ANSWER_FUNCTION_TMP_BYTES:
        raise OSError(
            errno.ENOSPC,
            f"the answer's zip ({size:,} bytes) outgrew the function's /tmp "
            f"({aws_limits.ANSWER_FUNCTION_TMP_BYTES:,} bytes, exhaust.aws_limits.ANSWER_FUNCTION_TMP_BYTES)",
            str(path),
        )


# API Gateway's maximum integration timeout for REST APIs: it answers 504 after 29 seconds whatever the function
# does (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html, "Integration timeout").
# infra.service_function.API_GATEWAY_INTEGRATION_TIMEOUT is the same limit (a test keeps them equal).
API_GATEWAY_TIMEOUT_SECONDS = 29
# The API functions stop before it (infra.service_function.API_FUNCTION_TIMEOUT): what an answer may take.
API_FUNCTION_TIMEOUT_SECONDS = 24
