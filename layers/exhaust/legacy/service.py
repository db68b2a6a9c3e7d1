"""One legacy download: check the body, the license key and the dates, build the zip, answer it.

The checks run in the order a caller can act on without leaking anything: a body that does not parse, then the
license key (who are you, may you read this resource and dataset), then the dates. Only then is pyarrow
loaded (exhaust.legacy.reader), so a refused call costs no more than a DynamoDB read. Then the footers of the
telemetry table say how many events the range may hold: over MAX_SYNC_EVENTS the call is refused
(DATE_RANGE_TOO_LARGE, 422, naming how many days fit) before any event is read.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exhaust import ports
from exhaust.auth.checks import AuthorizationFailed, LoginFailed, authenticate_license
from exhaust.auth.credentials import CredentialStore
from exhaust.auth.lockout import FailureLimiter
from exhaust.downloads import API_GATEWAY_TIMEOUT_SECONDS, deliver_zip, fresh_lake
from exhaust.legacy import rules
from exhaust.legacy.archive import write_archive
from exhaust.legacy.errors import AnswerTooLarge
from exhaust.requests import wiring
from exhaust.resources import LEGACY_PREFIX
from exhaust.responses import RawResponse
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.lake.store import Lake

LEGACY_DATASET_TYPE = "legacy"
# The most events one call answers: what bench/bench_answers.py measured to be built and delivered well within
# API Gateway's API_GATEWAY_TIMEOUT_SECONDS on one vCPU (the function's 1,769 MB): 31 days of 100,000 events a day,
# about 11 CPU seconds (docs/benchmarks.md, "Legacy and export").
MAX_SYNC_EVENTS = 3_200_000
# Days read at once: each waits mostly on the lake's ranged reads (S3), and compresses without the GIL.
READ_THREADS = 8


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class LegacyService:
    def __init__(
        self,
        credentials: CredentialStore | None = None,
        registry: ports.DatasetRegistry | None = None,
        lake_opener: Callable[[], Lake] | None = None,
        settings: RuntimeSettings | None = None,
        today: Callable[[], dt.date] = utc_today,
        limiter: FailureLimiter | None = None,
    ):
        self.credentials = credentials or CredentialStore()
        self.registry = registry or wiring.dataset_registry()
        self.settings = settings
        self._lake_opener = lake_opener
        self.today = today
        self._limiter = limiter

    @property
    def limiter(self) -> FailureLimiter:
        if self._limiter is None:
            self._limiter = FailureLimiter((self.settings or get_settings()).idempotency_table)
        return self._limiter

    def lake(self) -> Lake:
        return fresh_lake(self._lake_opener, self.settings)

    def download(
        self,
        dataset_id: str,
        resource_id: str,
        from_text: str | None,
        to_text: str | None,
        document: Any,
        source: str = "",
    ) -> RawResponse:
        """`document`: the parsed body (None when there is none); `source`: the caller's address (throttling)."""
        license_key = rules.license_key_of(document)
        self.limiter.check(source, license_key)
        try:
            authenticate_license(license_key, resource_id, dataset_id, self.credentials)
        except LoginFailed:  # a key that exists but lacks access guesses nothing: not counted
            self.limiter.record_failure(source, license_key)
            raise
        dataset = self.registry.get(dataset_id)
        if dataset is None or dataset.type != LEGACY_DATASET_TYPE:
            raise AuthorizationFailed(f"Dataset '{dataset_id}' is not available through the dataset API")
        max_days = min(rules.MAX_RANGE_DAYS, dataset.limits.maxDateRangeDays)
        days = rules.date_range(from_text, to_text, self.today(), max_days)

        from exhaust.legacy.reader import TelemetryReader

        reader = TelemetryReader(self.lake(), resource_id)
        refuse_if_too_large(days, reader.estimated_events(days.days))
        filename = f"{dataset_id}_{days.first.isoformat()}_{days.last.isoformat()}.zip"
        context = {"datasetId": dataset_id, "resourceId": resource_id}
        settings = self.settings or get_settings()
        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / filename
            write_archive(path, days.days, reader.events, context, threads=READ_THREADS)
            return deliver_zip(path, filename=filename, key_prefix=LEGACY_PREFIX, settings=settings)


def refuse_if_too_large(days: rules.DateRange, estimated: int) -> None:
    if estimated <= MAX_SYNC_EVENTS:
        return
    fitting = math.floor(MAX_SYNC_EVENTS / math.ceil(estimated / len(days.days)))
    if fitting < 1:
        advice = "Even a single day of this resource may hold more than that: it is too big for one synchronous answer"
    else:
        example = f"{days.first}..{days.first + dt.timedelta(days=fitting - 1)}"
        advice = f"Ask for at most {fitting} day(s) per call (e.g. {example}), splitting the range into several calls"
    raise AnswerTooLarge(
        f"{days.first}..{days.last} may hold up to {estimated:,} events of this resource; one call answers at most "
        f"{MAX_SYNC_EVENTS:,}, what can be sent within API Gateway's {API_GATEWAY_TIMEOUT_SECONDS} s. {advice}"
    )
