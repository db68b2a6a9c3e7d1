"""Answer a zip built on disk: inline when it fits in a Lambda response, else a 303 to a presigned link.

A synchronous Lambda answer is capped at 6 MB, and a binary body is base64-encoded in it (a third bigger), so
only zips up to `max_inline_download_bytes` (3.75 MB by default) travel inline. Bigger ones are uploaded under
a prefix of the exhaust bucket and answered `303 See Other` with `Location:` a presigned GET link, which
`curl -L`, browsers and HTTP clients follow (a POST is followed with a GET, as the link needs).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from exhaust import aws
from exhaust.requests.adapters import LinkSigner
from exhaust.responses import RawResponse
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.lake.store import Lake

ZIP_CONTENT_TYPE = "application/zip"


def fresh_lake(opener: Callable[[], Lake] | None, settings: RuntimeSettings | None) -> Lake:
    """The lake, opened afresh for each answer: a Lake caches its file list and footers, which the daily rewrite
    of a table would make stale in a warm Lambda. pyarrow is loaded here, only once an answer is being built."""
    if opener is not None:
        return opener()
    from exhaust.lake.store import Lake

    return Lake.open((settings or get_settings()).lake_uri)


def streamed_entry(name: str) -> zipfile.ZipInfo:
    """The header of a zip entry written as a stream: compressed, dated now (ZipFile.open says 1980-01-01)."""
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now(dt.UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def object_key(prefix: str, filename: str, today: dt.date | None = None) -> str:
    """`{prefix}{yyyy-mm-dd}/{random}/{filename}`: unguessable, and grouped by day for lifecycle rules."""
    today = today or dt.datetime.now(dt.UTC).date()
    return f"{prefix}{today.isoformat()}/{uuid.uuid4().hex}/{filename}"


def deliver_zip(path: Path, *, filename: str, key_prefix: str, settings: RuntimeSettings | None = None) -> RawResponse:
    settings = settings or get_settings()
    size = path.stat().st_size
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
