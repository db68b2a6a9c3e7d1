"""Callbacks are delivered apart from the request's steps and the API's answers.

Finalize, MarkFailed, cancel, delete and the sweeper only queue a callback (exhaust.pipeline.notify.QueuedCallbacks);
its own function (functions/callbacks in AWS, a few threads in local mode) takes it from the queue and sends it, one
short attempt and one retry (notify.CALLBACK_* timeouts). The queue is FIFO, grouped by channel: a partner whose
endpoint accepts and never answers holds only its own channel's group, one message at a time, while every other
channel's callbacks, every request's steps and every API answer go on.

A callback stays in its request's outbox until it is delivered, refused (a 4xx, or a destination exhaust.outbound
refuses) or given up (NOTICE_RETRY_WINDOW_SECONDS after the request ended): until then the sweeper queues it again,
once per notify.CALLBACK_RETRY_INTERVAL_SECONDS (5 minutes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exhaust import aws, observability, ports
from exhaust.observability import logger
from exhaust.pipeline.notify import CALLBACK_NOTICE, Delivery, Notifier, event_id, given_up, notice_of
from exhaust.ports import ConcurrentUpdate
from exhaust.requests import wiring
from exhaust.requests.models import ExhaustRequest

UPDATE_ATTEMPTS = 10
# SQS hands out at most 10 messages per ReceiveMessage (Amazon SQS API Reference, ReceiveMessage).
SQS_RECEIVE_MAX_MESSAGES = 10


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class CallbackDeliverer:
    """Sends the callback a queue message names, and records it settled in the request's outbox."""

    store: ports.RequestRecords = field(default_factory=wiring.request_store)
    notifier: Notifier = field(default_factory=Notifier)
    clock: Callable[[], int] = now_ms

    def deliver_message(self, body: str) -> Delivery | None:
        """Deliver the callback of the message `body`; None when there was nothing to send any more (delivered
        earlier, or the request moved on to another outcome whose own message follows)."""
        message = json.loads(body)
        request = self.store.get(str(message["requestId"]))
        if request is None or not self._pending(request, str(message["eventId"])):
            return None
        assert request.callbackUrl is not None
        detail, _ = notice_of(request)
        delivery = self.notifier.deliver_callback(request.callbackUrl, detail)
        if delivery != Delivery.DELIVERED:
            observability.count(observability.CALLBACK_FAILURES, request.dataset)
        if delivery != Delivery.FAILED or given_up(request, self.clock()):
            self._settle(request)
        return delivery

    @staticmethod
    def _pending(request: ExhaustRequest, eid: str) -> bool:
        return CALLBACK_NOTICE in request.outbox and bool(request.callbackUrl) and event_id(request) == eid

    def _settle(self, request: ExhaustRequest) -> None:
        """Take the callback out of the outbox of this outcome (a re-read when someone else wrote first)."""
        eid = event_id(request)
        current: ExhaustRequest | None = request
        for _ in range(UPDATE_ATTEMPTS):
            if current is None or not self._pending(current, eid):
                return
            remaining = [kind for kind in current.outbox if kind != CALLBACK_NOTICE]
            try:
                self.store.replace(current.model_copy(update={"outbox": remaining}), current.version)
                return
            except ConcurrentUpdate:
                current = self.store.get(request.requestId)
        logger.warning("delivered callback not recorded; it may be sent again", extra={"request_id": eid})

    def drain(self, queue_url: str, wait_seconds: int = 0) -> int:
        """Deliver what the queue holds now, message by message (tests and local mode); answers how many."""
        handled = 0
        while messages := receive(queue_url, wait_seconds):
            for message in messages:
                self.deliver_message(message["Body"])
                aws.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        return handled


def receive(queue_url: str, wait_seconds: int = 0) -> list[dict[str, Any]]:
    answer = aws.client("sqs").receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=SQS_RECEIVE_MAX_MESSAGES,
        WaitTimeSeconds=wait_seconds,
        AttributeNames=["MessageGroupId"],
    )
    return list(answer.get("Messages", []))
