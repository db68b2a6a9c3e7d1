"""The files of a day range of a standard dataset (the caller's channel, presigned links) or a public one (CDN).

Checks run in the order a caller fixes them: who you are and which channel, which dataset, which days.
This module never imports pyarrow: it runs in API Lambdas (the producer lives in exhaust.standard.producer).
"""

from __future__ import annotations

import datetime as dt
import re
import time

from exhaust import ports
from exhaust.auth.checks import CHANNEL_HEADER, require_any_role, require_channel
from exhaust.auth.scope import WHERE_COURSES_COME_FROM, is_course_scoped
from exhaust.datasets.registry import Dataset, DatasetRegistry
from exhaust.errors import BadRequest, Forbidden, NotFound
from exhaust.principal import Principal
from exhaust.readiness import readiness_answer
from exhaust.requests.adapters import LinkSigner
from exhaust.resources import STANDARD_DATASETS_PREFIX
from exhaust.settings import get_settings
from exhaust.standard.dates import DateQuery, resolve_range
from exhaust.standard.files import (
    DatasetFiles,
    KeyLister,
    S3KeyLister,
    as_answer,
    cdn_link,
    dataset_prefix,
    keys_by_day,
)

# A channel becomes one level of an S3 key: no slashes, no dot-only names, nothing a key would mangle.
CHANNEL_PATTERN = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}$")


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def checked_channel(channel: str) -> str:
    if not CHANNEL_PATTERN.match(channel):
        raise BadRequest(f"{CHANNEL_HEADER}: '{channel}' is not a channel id (letters, digits, '.', '_', '-')")
    return channel


def find_dataset(registry: ports.DatasetRegistry, dataset_id: str, dataset_type: str) -> Dataset:
    """The registered dataset of that type; a 404 naming the valid ids otherwise (the reference answered empty
    lists for an unknown dataset, which hid typos; docs/decisions.md)."""
    dataset = registry.get(dataset_id)
    if dataset is None or dataset.type != dataset_type:
        valid = ", ".join(registry.ids(dataset_type))
        raise NotFound(f"datasetId: unknown {dataset_type} dataset '{dataset_id}'; valid ids: {valid}")
    return dataset


def standard_get(
    principal: Principal,
    channel_header: str | None,
    dataset_id: str,
    dates: DateQuery,
    *,
    lister: KeyLister | None = None,
    today: dt.date | None = None,
) -> DatasetFiles:
    principal, channel = require_channel(principal, channel_header)
    checked_channel(channel)
    dataset = find_dataset(DatasetRegistry(), dataset_id, "standard")
    if dataset.authorizedRoles:
        require_any_role(principal, dataset.authorizedRoles, f"dataset {dataset_id}")
    if is_course_scoped(principal):
        raise Forbidden(
            f"dataset {dataset_id}: its daily files cover the whole channel, and {WHERE_COURSES_COME_FROM} only"
        )
    days = resolve_range(
        dates,
        today or today_utc(),
        max_range_days=dataset.limits.maxDateRangeDays,
        retention_days=dataset.limits.retentionDays,
        presets_allowed=False,
    )
    prefix = dataset_prefix(STANDARD_DATASETS_PREFIX, dataset_id, channel if dataset.perChannel else None)
    signer = LinkSigner()
    found = keys_by_day(lister or S3KeyLister(), signer.bucket, prefix, days)
    answer = as_answer(found, signer.sign, signer.expires_at_ms(int(time.time() * 1000)))
    return answer.model_copy(update=readiness_answer(get_settings().lake_uri))


def public_get(
    channel: str | None,
    dataset_id: str,
    dates: DateQuery,
    *,
    lister: KeyLister | None = None,
    today: dt.date | None = None,
) -> DatasetFiles:
    dataset = find_dataset(DatasetRegistry(), dataset_id, "public")
    if dataset.perChannel and channel is None:
        raise BadRequest(f"{CHANNEL_HEADER}: header is required: the files of {dataset_id} are per channel")
    days = resolve_range(
        dates,
        today or today_utc(),
        max_range_days=dataset.limits.maxDateRangeDays,
        retention_days=dataset.limits.retentionDays,
        presets_allowed=True,
    )
    settings = get_settings()
    prefix = dataset_prefix("", dataset_id, checked_channel(channel) if dataset.perChannel and channel else None)
    found = keys_by_day(lister or S3KeyLister(), settings.public_bucket, prefix, days)
    return as_answer(found, lambda key: cdn_link(settings.cdn_base_url, key), None)
