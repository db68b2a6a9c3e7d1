"""Telling the world a request ended: an EventBridge event, and a signed https callback when the submit asked.

Event: source `exhaust.pipeline`, detail-type `Exhaust Request Completed`, detail
`{"eventId", "requestId", "channel", "dataset", "status"}` (plus `statusMessage` when FAILED).

Callback: the same detail as JSON, POSTed to the request's callbackUrl (https only) with the headers

    X-Exhaust-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
    X-Exhaust-Event-Id: <the detail's eventId>

Both are delivered at least once: the notices still to deliver are the request's outbox, written with its final
state; what failed is sent again by the sweeper. `eventId` is the same in every delivery of one outcome of one
submission (`{requestId}-{submittedAt}-{status}`), so a receiver deduplicates on it.

A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes with the shared secret, compares
in constant time, and rejects timestamps older than a few minutes (replays). `verify_signature` does exactly that.
A callback is retried with exponential backoff on the spot, and later by the sweeper for NOTICE_RETRY_WINDOW_SECONDS;
a notice that never succeeds is logged, never fails the request.

The partner's own transitions (exhaust.pipeline.cancel_and_delete) are announced the same way, signed alike, with
detail-type `Exhaust Request Cancelled` or `Exhaust Request Files Deleted` and `"event": "cancelled" | "deleted"` in
the detail (plus `cancelledAt` / `deletedAt`, ISO 8601 UTC): a deleted request keeps its status, so `event` tells
them apart. They go through the same outbox (`notice_of` picks the detail from the request's state) and their
eventId ends in `-CANCELLED` or `-DELETED`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from exhaust import aws, observability
from exhaust.observability import logger, redact_url_credentials
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.settings import RuntimeSettings, get_settings
from exhaust.timestamps import iso_utc

EVENT_SOURCE = "exhaust.pipeline"
EVENT_DETAIL_TYPE = "Exhaust Request Completed"
SIGNATURE_HEADER = "X-Exhaust-Signature"
EVENT_ID_HEADER = "X-Exhaust-Event-Id"
EVENT_NOTICE, CALLBACK_NOTICE = "event", "callback"
# Undelivered notices are tried again (by the sweeper) for this long after the request ended, then given up.
NOTICE_RETRY_WINDOW_SECONDS = 24 * 3600
SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE_SECONDS = 300
CALLBACK_ATTEMPTS = 4
CALLBACK_FIRST_DELAY_SECONDS = 1.0
CALLBACK_TIMEOUT_SECONDS = 5.0
CANCELLED_EVENT, DELETED_EVENT = "cancelled", "deleted"
TRANSITION_DETAIL_TYPES = {CANCELLED_EVENT: "Exhaust Request Cancelled", DELETED_EVENT: "Exhaust Request Files Deleted"}

# (url, body, headers) -> HTTP status; raises on network errors.
Poster = Callable[[str, bytes, dict[str, str]], int]


class Delivery(StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"  # the receiver (or its URL) will never take it: not tried again
    FAILED = "failed"  # tried again later


def event_id(request: ExhaustRequest) -> str:
    """The same for every delivery of this outcome of this submission (a re-submit is a new submission)."""
    deleted = "-DELETED" if request.deletedAt is not None else ""
    return f"{request.requestId}-{request.submittedAt}-{request.status.value}{deleted}"


def notices_for(request: ExhaustRequest) -> list[str]:
    """The outbox of a request that just ended: the event, and the callback when the submit asked for one."""
    return [EVENT_NOTICE, *([CALLBACK_NOTICE] if request.callbackUrl else [])]


def completion_detail(request: ExhaustRequest) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "eventId": event_id(request),
        "requestId": request.requestId,
        "channel": request.channel,
        "dataset": request.dataset,
        "status": request.status.value,
    }
    if request.status == Status.FAILED and request.statusMessage:
        detail["statusMessage"] = request.statusMessage
    return detail


def notice_of(request: ExhaustRequest) -> tuple[dict[str, Any], str]:
    """The detail and detail-type of the notice a request's outbox holds: a delete, a cancel or a completion."""
    if request.deletedAt is not None:
        return transition_detail(request, DELETED_EVENT), TRANSITION_DETAIL_TYPES[DELETED_EVENT]
    if request.status == Status.CANCELLED:
        return transition_detail(request, CANCELLED_EVENT), TRANSITION_DETAIL_TYPES[CANCELLED_EVENT]
    return completion_detail(request), EVENT_DETAIL_TYPE


def transition_detail(request: ExhaustRequest, event: str) -> dict[str, Any]:
    """The detail of a cancelled or deleted notice: the completion detail, the event and when it happened."""
    at = request.deletedAt if event == DELETED_EVENT else request.completedAt
    detail = {**completion_detail(request), "event": event}
    detail.pop("statusMessage", None)
    if at is not None:
        detail[f"{event}At"] = iso_utc(at)
    return detail


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """True when `header` signs `body` with `secret` and is recent (what a callback receiver should check)."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
        received = parts[SIGNATURE_VERSION]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split(f"{SIGNATURE_VERSION}=", 1)[1]
    return hmac.compare_digest(expected, received)


def post_json(url: str, body: bytes, headers: dict[str, str]) -> int:
    # Imported here: urllib.request loads http.client, email and ssl, which only a callback needs (cold start).
    import urllib.error
    import urllib.request

    if urlparse(url).scheme != "https":
        raise ValueError("callbacks are only sent over https")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (https checked)
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@lru_cache(maxsize=4)
def _secret_from_manager(secret_arn: str) -> str:
    return str(aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])


def callback_secret(settings: RuntimeSettings) -> str:
    if settings.callback_secret:
        return settings.callback_secret
    if settings.callback_secret_arn:
        return _secret_from_manager(settings.callback_secret_arn)
    return ""


@dataclass
class Notifier:
    """Publishes the completion event and delivers the callback (ports injectable for tests)."""

    settings: RuntimeSettings = field(default_factory=get_settings)
    post: Poster = post_json
    sleep: Callable[[float], None] = time.sleep
    callback_attempts: int = CALLBACK_ATTEMPTS

    def deliver(self, request: ExhaustRequest, notices: list[str], now_ms: int) -> set[str]:
        """Try each pending notice of the ended request; answer those settled (delivered, refused or given up)."""
        detail, detail_type = notice_of(request)
        settled: set[str] = set()
        for notice in notices:
            if notice == EVENT_NOTICE:
                delivered = self.publish(detail, detail_type)
            elif notice == CALLBACK_NOTICE and request.callbackUrl:
                delivery = self.deliver_callback(request.callbackUrl, detail)
                if delivery != Delivery.DELIVERED:
                    observability.count(observability.CALLBACK_FAILURES, request.dataset)
                delivered = delivery != Delivery.FAILED
            else:
                delivered = True  # nothing to send any more
            ended_ms = request.deletedAt or request.completedAt or request.updatedAt
            if delivered:
                settled.add(notice)
            elif now_ms - ended_ms > NOTICE_RETRY_WINDOW_SECONDS * 1000:
                logger.error("completion notice given up", extra={"request_id": request.requestId, "notice": notice})
                settled.add(notice)
        return settled

    def publish(self, detail: dict[str, Any], detail_type: str = EVENT_DETAIL_TYPE) -> bool:
        """Put the event on the bus; False when it did not get there (the caller keeps it for later)."""
        try:
            answer = aws.client("events").put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail),
                        "EventBusName": self.settings.event_bus_name,
                    }
                ]
            )
            if answer.get("FailedEntryCount"):
                logger.warning("completion event rejected; sent again later", extra={"request_id": detail["requestId"]})
                return False
        except Exception:
            logger.exception(
                "completion event not published; sent again later", extra={"request_id": detail["requestId"]}
            )
            return False
        return True

    def call_back(self, url: str, detail: dict[str, Any]) -> bool:
        """POST the signed detail, with backoff; True once delivered."""
        return self.deliver_callback(url, detail) == Delivery.DELIVERED

    def deliver_callback(self, url: str, detail: dict[str, Any]) -> Delivery:
        secret = callback_secret(self.settings)
        body = json.dumps(detail, separators=(",", ":")).encode("utf-8")
        delay = CALLBACK_FIRST_DELAY_SECONDS
        for attempt in range(1, self.callback_attempts + 1):
            headers = {"Content-Type": "application/json", "User-Agent": "exhaust-callback/1"}
            if "eventId" in detail:
                headers[EVENT_ID_HEADER] = str(detail["eventId"])
            if secret:
                headers[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
            try:
                status = self.post(url, body, headers)
                if 200 <= status < 300:
                    return Delivery.DELIVERED
                if 400 <= status < 500 and status != 429:
                    logger.warning("callback refused", extra={"request_id": detail["requestId"], "status": status})
                    return Delivery.REFUSED
            except ValueError:
                logger.warning("callback url is not https; not called", extra={"request_id": detail["requestId"]})
                return Delivery.REFUSED
            except Exception as error:
                logger.info(
                    "callback failed",
                    extra={
                        "request_id": detail["requestId"],
                        "attempt": attempt,
                        "error": redact_url_credentials(str(error)),
                    },
                )
            if attempt < self.callback_attempts:
                self.sleep(delay)
                delay *= 2
        logger.warning("callback not delivered; sent again later", extra={"request_id": detail["requestId"]})
        return Delivery.FAILED
