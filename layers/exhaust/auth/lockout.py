"""Failed license keys are throttled by the service itself: API Gateway's stage limits are a rate, not a lockout,
so without this a caller may try hundreds of keys a second.

Failures are counted per source address and per presented key (by its SHA-256, never the key) in fixed windows of
FAILURE_WINDOW_SECONDS; past MAX_FAILURES_PER_SOURCE or MAX_FAILURES_PER_KEY in a window, every call of that source
or with that key is answered 429 with Retry-After (the rest of the window) before the key is even looked up. The
counters are items of the idempotency table (a string key and DynamoDB's TTL on expiresAt, all they need), each
expiring one window after its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exhaust import aws
from exhaust.errors import TooManyRequests
from exhaust.settings import get_settings

FAILURE_WINDOW_SECONDS = 300
# A partner mistyping its key a few times is never locked out; a scan of keys is after a handful of tries.
MAX_FAILURES_PER_SOURCE = 20
MAX_FAILURES_PER_KEY = 10
COUNTER_PREFIX = "license-failures"


@dataclass
class FailureLimiter:
    table_name: str = field(default_factory=lambda: get_settings().idempotency_table)
    clock: Callable[[], float] = time.time

    def _table(self) -> Any:
        return aws.resource("dynamodb").Table(self.table_name)

    def _counters(self, source: str, license_key: str) -> tuple[int, list[tuple[str, int, str]]]:
        window = int(self.clock() // FAILURE_WINDOW_SECONDS)
        key_hash = hashlib.sha256(license_key.encode("utf-8", errors="surrogatepass")).hexdigest()
        return window, [
            (f"{COUNTER_PREFIX}#source#{source or 'unknown'}#{window}", MAX_FAILURES_PER_SOURCE, "from this address"),
            (f"{COUNTER_PREFIX}#key#{key_hash}#{window}", MAX_FAILURES_PER_KEY, "with this license key"),
        ]

    def check(self, source: str, license_key: str) -> None:
        """TooManyRequests when this source or this key failed too often in the current window."""
        window, counters = self._counters(source, license_key)
        table = self._table()
        for counter, limit, what in counters:
            item = table.get_item(Key={"idempotencyKey": counter}, ConsistentRead=True).get("Item") or {}
            if int(item.get("failures", 0)) >= limit:
                retry_after = max(1, int((window + 1) * FAILURE_WINDOW_SECONDS - self.clock()))
                message = f"Too many failed license keys {what}: try again in {retry_after} s"
                raise TooManyRequests(message, retry_after_seconds=retry_after)

    def record_failure(self, source: str, license_key: str) -> None:
        window, counters = self._counters(source, license_key)
        expires_at = (window + 2) * FAILURE_WINDOW_SECONDS
        table = self._table()
        for counter, _, _ in counters:
            table.update_item(
                Key={"idempotencyKey": counter},
                UpdateExpression="ADD failures :one SET expiresAt = :expires",
                ExpressionAttributeValues={":one": 1, ":expires": expires_at},
            )
