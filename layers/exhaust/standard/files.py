"""Where daily dataset files live, how they are found in S3 and how they become links.

Standard datasets: `s3://{exhaust bucket}/data-exhaust/{datasetId}/{channel}/{yyyy-mm-dd}.csv`, answered as
presigned links. Public datasets: `s3://{public bucket}/{datasetId}/{channel}/{yyyy-mm-dd}.csv`, answered as
CDN links `{cdn_base_url}/{key}` that never expire. A dataset registered with perChannel=false has no channel
level. A day may hold several files (`{yyyy-mm-dd}.csv`, `{yyyy-mm-dd}-part-1.csv`...): every key whose name
starts with the day belongs to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Protocol
from urllib.parse import quote

from pydantic import BaseModel, Field

from exhaust import aws
from exhaust.resources import STANDARD_DATASETS_PREFIX
from exhaust.standard.dates import DateRange

DAY_LENGTH = len("yyyy-mm-dd")


def dataset_prefix(root: str, dataset_id: str, channel: str | None) -> str:
    """`{root}{datasetId}/{channel}/`, or `{root}{datasetId}/` for a dataset that is not per channel."""
    return f"{root}{dataset_id}/{channel}/" if channel else f"{root}{dataset_id}/"


def standard_key(dataset_id: str, channel: str | None, day: dt.date, suffix: str = ".csv") -> str:
    return f"{dataset_prefix(STANDARD_DATASETS_PREFIX, dataset_id, channel)}{day.isoformat()}{suffix}"


def public_key(dataset_id: str, channel: str | None, day: dt.date, suffix: str = ".csv") -> str:
    return f"{dataset_prefix('', dataset_id, channel)}{day.isoformat()}{suffix}"


class KeyLister(Protocol):
    def keys_after(self, bucket: str, prefix: str, start_after: str) -> Iterator[str]: ...


class S3KeyLister:
    def keys_after(self, bucket: str, prefix: str, start_after: str) -> Iterator[str]:
        paginator = aws.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after):
            for item in page.get("Contents", []):
                yield str(item["Key"])


def day_of(key: str, prefix: str) -> dt.date | None:
    """The day a key under `prefix` belongs to, None for a key that does not start with a day."""
    try:
        return dt.date.fromisoformat(key[len(prefix) : len(prefix) + DAY_LENGTH])
    except ValueError:
        return None


def keys_by_day(lister: KeyLister, bucket: str, prefix: str, days: DateRange) -> dict[dt.date, list[str]]:
    """The keys of each day of the range that has files, listing from the first day on (never the whole prefix)."""
    # Keys of the day before the range sort before `{prefix}{day before}~` ('~' follows '.', '-' and digits).
    start_after = f"{prefix}{(days.start - dt.timedelta(days=1)).isoformat()}~"
    found: dict[dt.date, list[str]] = {}
    for key in lister.keys_after(bucket, prefix, start_after):
        day = day_of(key, prefix)
        if day is None:
            continue
        if day > days.end:
            break
        if day >= days.start:
            found.setdefault(day, []).append(key)
    return found


class DatasetFiles(BaseModel):
    """The answer of both routes; expiresAt only when there are presigned links."""

    files: list[str]
    periodWiseFiles: dict[str, list[str]]
    expiresAt: int | None = None
    dataAvailableUntil: str | None = Field(
        default=None, description="ISO 8601 UTC instant up to which the lake the files are built from is complete"
    )


def as_answer(found: dict[dt.date, list[str]], link: Callable[[str], str], expires_at: int | None) -> DatasetFiles:
    period_wise = {day.isoformat(): [link(key) for key in sorted(keys)] for day, keys in sorted(found.items())}
    files = [url for urls in period_wise.values() for url in urls]
    return DatasetFiles(files=files, periodWiseFiles=period_wise, expiresAt=expires_at if files else None)


def cdn_link(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/{quote(key, safe='/')}"
