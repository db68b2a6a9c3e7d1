"""Telling the world a request ended: an EventBridge event, and a signed https callback when the submit asked.

Event: source `exhaust.pipeline`, detail-type `Exhaust Request Completed`, detail
`{"requestId", "channel", "dataset", "status"}` (plus `statusMessage` when FAILED).

Callback: the same detail as JSON, POSTed to the request's callbackUrl (https only) with the header

    X-Exhaust-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes with the shared secret, compares
in constant time, and rejects timestamps older than a few minutes (replays). `verify_signature` does exactly that.
Delivery is retried with exponential backoff; a callback that never succeeds is logged, never fails the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from exhaust import aws, observability
from exhaust.observability import logger, redact_url_credentials
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.settings import RuntimeSettings, get_settings

EVENT_SOURCE = "exhaust.pipeline"
EVENT_DETAIL_TYPE = "Exhaust Request Completed"
SIGNATURE_HEADER = "X-Exhaust-Signature"
SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE_SECONDS = 300
CALLBACK_ATTEMPTS = 4
CALLBACK_FIRST_DELAY_SECONDS = 1.0
CALLBACK_TIMEOUT_SECONDS = 5.0

# (url, body, headers) -> HTTP status; raises on network errors.
Poster = Callable[[str, bytes, dict[str, str]], int]


def completion_detail(request: ExhaustRequest) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "requestId": request.requestId,
        "channel": request.channel,
        "dataset": request.dataset,
        "status": request.status.value,
    }
    if request.status == Status.FAILED and request.statusMessage:
        detail["statusMessage"] = request.statusMessage
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

    def request_ended(self, request: ExhaustRequest) -> None:
        detail = completion_detail(request)
        self.publish(detail)
        if request.callbackUrl and not self.call_back(request.callbackUrl, detail):
            observability.count(observability.CALLBACK_FAILURES, request.dataset)

    def publish(self, detail: dict[str, Any]) -> None:
        try:
            answer = aws.client("events").put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": EVENT_DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "EventBusName": self.settings.event_bus_name,
                    }
                ]
            )
            if answer.get("FailedEntryCount"):
                logger.warning("completion event rejected", extra={"request_id": detail["requestId"]})
        except Exception:
            # The request's state is already written; a lost event must not turn a finished request into a failure.
            logger.exception("completion event not published", extra={"request_id": detail["requestId"]})

    def call_back(self, url: str, detail: dict[str, Any]) -> bool:
        secret = callback_secret(self.settings)
        body = json.dumps(detail, separators=(",", ":")).encode("utf-8")
        delay = CALLBACK_FIRST_DELAY_SECONDS
        for attempt in range(1, CALLBACK_ATTEMPTS + 1):
            headers = {"Content-Type": "application/json", "User-Agent": "exhaust-callback/1"}
            if secret:
                headers[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
            try:
                status = self.post(url, body, headers)
                if 200 <= status < 300:
                    return True
                if 400 <= status < 500 and status != 429:
                    logger.warning("callback refused", extra={"request_id": detail["requestId"], "status": status})
                    return False
            except ValueError:
                logger.warning("callback url is not https; not called", extra={"request_id": detail["requestId"]})
                return False
            except Exception as error:
                logger.info(
                    "callback failed",
                    extra={
                        "request_id": detail["requestId"],
                        "attempt": attempt,
                        "error": redact_url_credentials(str(error)),
                    },
                )
            if attempt < CALLBACK_ATTEMPTS:
                self.sleep(delay)
                delay *= 2
        logger.warning("callback not delivered", extra={"request_id": detail["requestId"]})
        return False
