"""The dispatcher's rules: one queue message -> at most one execution of the workflow for the request's attempt.

For each message `{"requestId", "attempt"}`:
1. the request must exist and be SUBMITTED -> go on; PROCESSING under the execution this attempt is named after
   -> start that execution again (a dispatcher that claimed it may have died before starting it; Step Functions
   refuses, or answers with the running one, when it did start); anything else -> nothing to do;
2. throttles: when the channel already has `max_running_per_channel` requests PROCESSING, or all channels together
   `max_running_total`, the request stays SUBMITTED and is queued again with a delay;
3. the message is held invisible only CLAIM_HOLD_SECONDS from here, so a dispatcher dying between the claim and the
   start has its message delivered again within seconds (step 1 then starts the execution);
4. claim it: SUBMITTED -> PROCESSING with the execution's ARN, a conditional write (a duplicate delivery racing
   this one loses here);
5. start the execution named after requestId, submission, attempt and deferrals (a duplicate that got this far is
   refused by Step Functions). If the start fails, the claim is undone and the message reported failed; it comes
   back after RETRY_HOLD_SECONDS, not the queue's full visibility timeout.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from exhaust import ports
from exhaust.observability import logger
from exhaust.pipeline.executions import StepFunctionsWorkflow, execution_name, workflow_input
from exhaust.pipeline.steps import now_ms
from exhaust.ports import ConcurrentUpdate, ExecutionAlreadyExists
from exhaust.requests import wiring
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.settings import RuntimeSettings, get_settings

THROTTLE_DELAY_SECONDS = 60
# How long a message stays invisible once its request is being claimed, and after a failed dispatch: short, so a
# crash or a blip costs seconds, not the queue's visibility timeout (120 s).
CLAIM_HOLD_SECONDS = 20
RETRY_HOLD_SECONDS = 10

# seconds -> None: keep the message being dispatched invisible this many seconds from now.
Hold = Callable[[int], None]


class Outcome(StrEnum):
    STARTED = "started"
    RESUMED = "resumed"
    ALREADY_STARTED = "already-started"
    THROTTLED = "throttled"
    IGNORED = "ignored"


def parse_message(body: str) -> str:
    """The requestId of a queue message body (what RequestQueue.send writes)."""
    message = json.loads(body)
    if not isinstance(message, dict) or not isinstance(message.get("requestId"), str):
        raise ValueError("queue message without a requestId")
    return str(message["requestId"])


def _no_hold(seconds: int) -> None:
    """Where no message can be held (a direct call): nothing to do."""


@dataclass
class Dispatcher:
    store: ports.RequestCounts = field(default_factory=wiring.request_store)
    queue: ports.RequestQueue = field(default_factory=wiring.request_queue)
    workflow: ports.Workflow = field(default_factory=StepFunctionsWorkflow)
    settings: RuntimeSettings = field(default_factory=get_settings)
    throttle_delay_seconds: int = THROTTLE_DELAY_SECONDS
    claim_hold_seconds: int = CLAIM_HOLD_SECONDS
    retry_hold_seconds: int = RETRY_HOLD_SECONDS

    def dispatch_message(self, body: str, hold: Hold = _no_hold) -> Outcome:
        """Dispatch one message; on failure it is held only briefly (then raised, so it is delivered again)."""
        try:
            return self.dispatch(parse_message(body), hold)
        except Exception:
            _try_hold(hold, self.retry_hold_seconds)
            raise

    def dispatch(self, request_id: str, hold: Hold = _no_hold) -> Outcome:
        request = self.store.get(request_id)
        if request is not None and request.status == Status.PROCESSING:
            return self._resume(request)
        if request is None or request.status != Status.SUBMITTED:
            logger.info(
                "nothing to dispatch",
                extra={"request_id": request_id, "status": request.status.value if request else None},
            )
            return Outcome.IGNORED
        waiting = self._waiting_reason(request)
        if waiting:
            self._note_waiting(request, waiting)
            self.queue.send(request.requestId, request.attempts, delay_seconds=self.throttle_delay_seconds)
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
        _try_hold(hold, self.claim_hold_seconds)
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

    def _waiting_reason(self, request: ExhaustRequest) -> str | None:
        """Why the request cannot start now (the partner reads it as its statusMessage), or None when it can."""
        limit = self.settings.max_running_per_channel
        running = self.store.count_in_status(Status.PROCESSING, request.channel)
        if running >= limit:
            logger.info(
                "channel at its limit of running requests; queued again",
                extra={"request_id": request.requestId, "channel": request.channel, "running": running},
            )
            return (
                f"Queued: channel {request.channel} already has {running} requests running (at most {limit}); "
                "this one starts when one of them ends"
            )
        limit = self.settings.max_running_total
        running_total = self.store.count_in_status(Status.PROCESSING)
        if running_total >= limit:
            logger.info(
                "service at its limit of running requests; queued again",
                extra={"request_id": request.requestId, "running": running_total},
            )
            return (
                f"Queued: the service is running its most requests at once ({limit}); "
                "this one starts when one of them ends"
            )
        return None

    def _note_waiting(self, request: ExhaustRequest, reason: str) -> None:
        """Say why it waits, and touch it: the sweeper re-queues only SUBMITTED requests nothing has touched."""
        # ConcurrentUpdate: claimed, cancelled or noted by another delivery meanwhile; the next delivery sees which.
        with contextlib.suppress(ConcurrentUpdate):
            self.store.replace(
                request.model_copy(update={"statusMessage": reason, "updatedAt": now_ms()}), request.version
            )

    def _resume(self, request: ExhaustRequest) -> Outcome:
        """A PROCESSING request: start its attempt's execution in case the dispatcher that claimed it never did."""
        name = execution_name(request)
        if request.executionArn != self.workflow.execution_arn(name):
            return Outcome.IGNORED
        try:
            self.workflow.start(name, workflow_input(request))
        except ExecutionAlreadyExists:
            return Outcome.ALREADY_STARTED
        logger.info("claimed request's execution started (again)", extra={"request_id": request.requestId})
        return Outcome.RESUMED

    def _unclaim(self, claimed: ExhaustRequest) -> None:
        try:
            self.store.replace(
                claimed.model_copy(update={"status": Status.SUBMITTED, "executionArn": None, "updatedAt": now_ms()}),
                claimed.version,
            )
        except ConcurrentUpdate:
            logger.warning("could not undo the claim; the sweeper recovers it", extra={"request_id": claimed.requestId})


def _try_hold(hold: Hold, seconds: int) -> None:
    try:
        hold(seconds)
    except Exception:
        # The message keeps the queue's visibility timeout: slower to come back, nothing lost.
        logger.warning("could not shorten the message's visibility", extra={"seconds": seconds})
