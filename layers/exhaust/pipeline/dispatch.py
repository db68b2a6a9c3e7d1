"""The dispatcher's rules: one queue message -> at most one execution of the workflow for the request's attempt.

For each message `{"requestId", "attempt"}`:
1. the request must exist and be SUBMITTED (anything else: already taken, or done) -> nothing to do;
2. per-channel throttle: when the channel already has `max_running_per_channel` requests PROCESSING, the request
   stays SUBMITTED and is queued again with a delay;
3. claim it: SUBMITTED -> PROCESSING with the execution's ARN, a conditional write (a duplicate delivery racing
   this one loses here);
4. start the execution named after requestId, submission and attempt (a duplicate that got this far is refused
   by Step Functions). If the start fails, the claim is undone and the message reported failed, so SQS delivers
   it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from exhaust.observability import logger
from exhaust.pipeline.steps import now_ms
from exhaust.pipeline.workflow import (
    ExecutionAlreadyExists,
    StepFunctionsWorkflow,
    Workflow,
    execution_name,
    workflow_input,
)
from exhaust.requests.adapters import RequestQueue
from exhaust.requests.models import Status
from exhaust.requests.store import ConcurrentUpdate, RequestStore
from exhaust.settings import RuntimeSettings, get_settings

THROTTLE_DELAY_SECONDS = 60


class Outcome(StrEnum):
    STARTED = "started"
    ALREADY_STARTED = "already-started"
    THROTTLED = "throttled"
    IGNORED = "ignored"


def parse_message(body: str) -> str:
    """The requestId of a queue message body (what RequestQueue.send writes)."""
    message = json.loads(body)
    if not isinstance(message, dict) or not isinstance(message.get("requestId"), str):
        raise ValueError("queue message without a requestId")
    return str(message["requestId"])


@dataclass
class Dispatcher:
    store: RequestStore = field(default_factory=RequestStore)
    queue: RequestQueue = field(default_factory=RequestQueue)
    workflow: Workflow = field(default_factory=StepFunctionsWorkflow)
    settings: RuntimeSettings = field(default_factory=get_settings)
    throttle_delay_seconds: int = THROTTLE_DELAY_SECONDS

    def dispatch_message(self, body: str) -> Outcome:
        return self.dispatch(parse_message(body))

    def dispatch(self, request_id: str) -> Outcome:
        request = self.store.get(request_id)
        if request is None or request.status != Status.SUBMITTED:
            logger.info(
                "nothing to dispatch",
                extra={"request_id": request_id, "status": request.status.value if request else None},
            )
            return Outcome.IGNORED
        running = self.store.count_in_status(Status.PROCESSING, request.channel)
        if running >= self.settings.max_running_per_channel:
            self.queue.send(request.requestId, request.attempts, delay_seconds=self.throttle_delay_seconds)
            logger.info(
                "channel at its limit of running requests; queued again",
                extra={"request_id": request_id, "channel": request.channel, "running": running},
            )
            return Outcome.THROTTLED

        name = execution_name(request)
        claimed_request = request.model_copy(
            update={
                "status": Status.PROCESSING,
                "executionArn": self.workflow.execution_arn(name),
                "statusMessage": None,
                "updatedAt": now_ms(),
            }
        )
        try:
            claimed = self.store.replace(claimed_request, request.version)
        except ConcurrentUpdate:
            logger.info("another delivery claimed the request", extra={"request_id": request_id})
            return Outcome.ALREADY_STARTED
        try:
            self.workflow.start(name, workflow_input(claimed))
        except ExecutionAlreadyExists:
            logger.info("execution already started", extra={"request_id": request_id, "execution": name})
            return Outcome.ALREADY_STARTED
        except Exception:
            self._unclaim(claimed)
            raise
        logger.info("execution started", extra={"request_id": request_id, "execution": name})
        return Outcome.STARTED

    def _unclaim(self, claimed: Any) -> None:
        try:
            self.store.replace(
                claimed.model_copy(update={"status": Status.SUBMITTED, "executionArn": None, "updatedAt": now_ms()}),
                claimed.version,
            )
        except ConcurrentUpdate:
            logger.warning("could not undo the claim; the sweeper recovers it", extra={"request_id": claimed.requestId})
