"""Where a request's output files are listed: a few on its item, all of them in its manifest in S3.

A request of 10,000 batches has 10,000 files; listed on its DynamoDB item they would pass the 400 KB item limit at
about 1,250. So the builders record each batch outside the item (RequestStore.record_batch), Finalize writes the
complete list to S3 and keeps only the first FILES_ON_ITEM files on the item, with `filesTotal`:

    requests/{channel}/{requestId}/manifest.json                 every file, totals (the partner's download)
    requests/{channel}/{requestId}/manifest/files-00000.json     files 0..999, by name
    requests/{channel}/{requestId}/manifest/files-00001.json     files 1000..1999, ...

Read pages a request's links from these pages (one or two GETs per answer, whatever the request's size); list and
search use the item alone. Everything lives under the request's prefix, so cancel, delete and the bucket's
lifecycle rule remove it with the zips (docs/dynamodb.md, docs/decisions.md).
"""

from __future__ import annotations

import json
from typing import Any

from exhaust import aws, resources
from exhaust.requests.models import ExhaustRequest, OutputFile
from exhaust.settings import get_settings

MANIFEST_NAME = "manifest.json"
# Files per manifest page: a page is about 300 KB, and read's largest page (READ_FILES_MAX_LIMIT) spans two.
MANIFEST_PAGE_FILES = 1000
# Files kept on the request item (about 320 bytes each): enough for every list and search link, and for read of a
# small request without touching S3, far below DynamoDB's item limit.
FILES_ON_ITEM = 10


def key_prefix(request: ExhaustRequest) -> str:
    """Where the request's zips and manifest live: `requests/{channel}/{requestId}/`."""
    return f"{resources.REQUESTS_PREFIX}{request.channel}/{request.requestId}/"


def manifest_key(request: ExhaustRequest) -> str:
    return f"{key_prefix(request)}{MANIFEST_NAME}"


def manifest_page_key(request: ExhaustRequest, page: int) -> str:
    return f"{key_prefix(request)}manifest/files-{page:05d}.json"


def listed_on_item(files: list[OutputFile]) -> list[OutputFile]:
    return files[:FILES_ON_ITEM]


class Manifests:
    """The manifest and its pages in the exhaust bucket."""

    def __init__(self, bucket: str | None = None):
        self.bucket = bucket or get_settings().exhaust_bucket

    def write(self, request: ExhaustRequest, files: list[OutputFile]) -> list[str]:
        """manifest.json and its pages, for `files` sorted by name; answers the keys written (pages first)."""
        s3 = aws.client("s3")
        written: list[str] = []
        entries = [file.model_dump() for file in files]
        for page, start in enumerate(range(0, len(entries), MANIFEST_PAGE_FILES)):
            key = manifest_page_key(request, page)
            body = {
                "requestId": request.requestId,
                "offset": start,
                "files": entries[start : start + MANIFEST_PAGE_FILES],
            }
            s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")
            written.append(key)
        manifest: dict[str, Any] = {
            "requestId": request.requestId,
            "dataset": request.dataset,
            "channel": request.channel,
            "tag": request.tag,
            "files": entries,
            "totalRows": sum(file.rows for file in files),
            "totalBytes": sum(file.bytes for file in files),
        }
        key = manifest_key(request)
        s3.put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(manifest, indent=2).encode(), ContentType="application/json"
        )
        written.append(key)
        return written

    def files(self, request: ExhaustRequest, offset: int, limit: int) -> list[OutputFile]:
        """Files `offset` to `offset + limit` (by name) from the pages that hold them."""
        s3 = aws.client("s3")
        found: list[OutputFile] = []
        first, last = offset // MANIFEST_PAGE_FILES, (offset + limit - 1) // MANIFEST_PAGE_FILES
        for page in range(first, last + 1):
            body = json.loads(s3.get_object(Bucket=self.bucket, Key=manifest_page_key(request, page))["Body"].read())
            start = page * MANIFEST_PAGE_FILES
            for index, entry in enumerate(body["files"], start):
                if offset <= index < offset + limit:
                    found.append(OutputFile.model_validate(entry))
        return found
