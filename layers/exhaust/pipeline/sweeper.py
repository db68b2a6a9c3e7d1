"""The sweeper: nothing is lost, nothing stays PROCESSING after its execution ended.

- SUBMITTED and untouched for `sweep_submitted_after_seconds` (or `sweep_unqueued_after_seconds` when submit
  marked that its queue send failed): the queue message was lost (queueing failed at submit, or a message went
  to the dead-letter queue): queue it again (and touch the request, so the next sweep
  waits another period). A duplicate message is harmless: the dispatcher starts one execution per attempt.
- PROCESSING whose execution ended (or never started, or is unknown, e.g. local mode's worker was killed): the
  infrastructure's failure, so the request is deferred (queued again without using an attempt). After
  `sweep_stuck_after_seconds` without progress, even while it runs (it is stopped): the attempt ends and counts,
  so the request is queued again while it has attempts left, and FAILED after that.
- SUCCESS or FAILED with notices in its outbox (the event or callback failed when it ended): sent again.
A PROCESSING request younger than PROCESSING_GRACE_MS is left alone: its dispatcher may be starting it right now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exhaust.observability import logger
from exhaust.pipeline.errors import EXECUTION_LOST, StaleExecution
from exhaust.pipeline.executions import RUNNING, StepFunctionsWorkflow
from exhaust.pipeline.notify import NOTICE_RETRY_WINDOW_SECONDS
from exhaust.pipeline.steps import Pipeline, end_attempt
from exhaust.ports import ConcurrentUpdate, Workflow
from exhaust.requests.models import FINISHED_STATUSES, ExhaustRequest, Status

PROCESSING_GRACE_MS = 60_000
EXECUTION_STUCK = "States.ExecutionStuck"
# How far back (by submission) ended requests are looked at for undelivered notices: the retry window, plus the
# longest a request can take to end (a 12-hour execution, retries and a bounded outage).
NOTICE_LOOKBACK_MS = (NOTICE_RETRY_WINDOW_SECONDS + 2 * 24 * 3600) * 1000


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)


@dataclass
class Sweeper:
    pipeline: Pipeline = field(default_factory=Pipeline)
    workflow: Workflow = field(default_factory=StepFunctionsWorkflow)
    processing_grace_ms: int = PROCESSING_GRACE_MS

    def sweep(self) -> SweepReport:
        report = SweepReport()
        now = self.pipeline.clock()
        settings = self.pipeline.settings
        store = self.pipeline.store
        lost_before = now - settings.sweep_submitted_after_seconds * 1000
        unqueued_before = now - settings.sweep_unqueued_after_seconds * 1000
        for request in store.in_status(Status.SUBMITTED, max(lost_before, unqueued_before)):
            if request.updatedAt >= lost_before and not request.queueSendFailed:
                continue
            if self._requeue(request, now):
                report.requeued.append(request.requestId)
        for request in store.in_status(Status.PROCESSING, now - self.processing_grace_ms):
            if self._recover(request, now):
                report.recovered.append(request.requestId)
        for status in FINISHED_STATUSES:  # CANCELLED, and deleted ones, carry notices too (pipeline.cancel_and_delete)
            for request in store.with_pending_notices(status, now - NOTICE_LOOKBACK_MS):
                if not self.pipeline.announce(request).outbox:
                    report.notified.append(request.requestId)
        if report.requeued or report.recovered or report.notified:
            logger.info(
                "sweep",
                extra={"requeued": report.requeued, "recovered": report.recovered, "notified": report.notified},
            )
        return report

    def _requeue(self, request: ExhaustRequest, now: int) -> bool:
        try:
            touched = request.model_copy(update={"updatedAt": now, "queueSendFailed": False})
            self.pipeline.store.replace(touched, request.version)
        except ConcurrentUpdate:
            return False  # it moved on meanwhile
        self.pipeline.queue.send(request.requestId, request.attempts)
        return True

    def _recover(self, request: ExhaustRequest, now: int) -> bool:
        state = self.workflow.describe(request.executionArn) if request.executionArn else None
        stuck_ms = self.pipeline.settings.sweep_stuck_after_seconds * 1000
        if state == RUNNING:
            if now - request.updatedAt < stuck_ms:
                return False
            assert request.executionArn is not None
            self.workflow.stop(request.executionArn, "stuck without progress; the sweeper ended the attempt")
            error, message = EXECUTION_STUCK, "the request made no progress and was stopped"
        else:
            error, message = EXECUTION_LOST, f"the execution ended without finishing the request ({state or 'lost'})"
        try:
            end_attempt(self.pipeline, request, error, message)
        except StaleExecution:
            return False
        return True
