"""How an attempt of a request ends (Finalize with a failed batch, MarkFailed, the sweeper), by the kind of its error:

    permanent        FAILED with the error's message (attempts + 1)
    infrastructure   deferred: SUBMITTED again after TRANSIENT_RETRY_DELAY_SECONDS, attempts unchanged, as long as
                     such failures have not lasted TRANSIENT_OUTAGE_LIMIT_SECONDS; then FAILED with OUTAGE_MESSAGE
    anything else    attempts + 1: SUBMITTED again with backoff while attempts remain, else FAILED
A request that ends carries its completion notices in its outbox, written with the final state and removed once
delivered; the sweeper delivers what is left (at least once; receivers deduplicate on the detail's eventId).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from exhaust import observability
from exhaust.observability import logger
from exhaust.pipeline.errors import (
    EXECUTION_LOST,
    FUNCTION_LIMIT_ERROR,
    MAP_ITEM_FAILED,
    PERMANENT_ERROR,
    THROTTLING_ERRORS,
    TRANSIENT_ERRORS,
    StaleExecution,
    TransientFailure,
)
from exhaust.pipeline.notify import notices_for
from exhaust.pipeline.steps.context import RETRY_BASE_DELAY_SECONDS, UPDATE_ATTEMPTS, Pipeline
from exhaust.ports import ConcurrentUpdate
from exhaust.requests.models import MAX_ATTEMPTS, ExhaustRequest, Status

SQS_MAX_DELAY_SECONDS = 900
# Errors of the infrastructure, not of the request: they never use up one of its attempts.
INFRASTRUCTURE_ERRORS = frozenset({*THROTTLING_ERRORS, *TRANSIENT_ERRORS, EXECUTION_LOST})
DEFERRED_MESSAGE = "interrupted by a temporary AWS failure ({message}); it resumes automatically"
OUTAGE_MESSAGE = (
    "The export could not run: the AWS services it depends on kept failing for more than {minutes} minutes "
    "(last error: {message}). Nothing is wrong with the request: submit it again."
)
RETRYING_MESSAGE = "{message}; it is tried again (attempt {attempt} of {max_attempts})"
RETRIES_EXHAUSTED_MESSAGE = (
    "Internal Server Error: the export failed {attempts} times (last error: {message}). Submit it again; if it "
    "fails again, contact support with the requestId."
)


def retry_delay_seconds(attempts: int, base: int = RETRY_BASE_DELAY_SECONDS) -> int:
    """Backoff before attempt number `attempts + 1` of a request: base, 2 x base, ... (SQS allows 15 minutes)."""
    return int(min(SQS_MAX_DELAY_SECONDS, base * 2 ** max(attempts - 1, 0)))


def elapsed_ms(started_at: str | None, moment: int) -> int | None:
    if not started_at:
        return None
    try:
        started = dt.datetime.fromisoformat(started_at)
    except ValueError:
        return None
    return max(0, moment - int(started.timestamp() * 1000))


def end_attempt(
    pipeline: Pipeline, request: ExhaustRequest, error_name: str, message: str, started_at: str | None = None
) -> ExhaustRequest:
    """Count the attempt: FAILED (permanent error, or the last attempt) or back to SUBMITTED and re-queued.

    A racing write (a batch still recording its file) is re-read and the attempt ended on the fresh copy, as
    long as the request is still in the same status under the same execution.
    """
    for _ in range(UPDATE_ATTEMPTS):
        try:
            return _end_attempt(pipeline, request, error_name, message, started_at)
        except ConcurrentUpdate:
            fresh = pipeline.store.get(request.requestId)
            if fresh is None or fresh.status != request.status or fresh.executionArn != request.executionArn:
                raise StaleExecution(f"request {request.requestId} moved on while ending its attempt") from None
            request = fresh
    raise TransientFailure(f"request {request.requestId} kept changing while ending its attempt")


def _end_attempt(
    pipeline: Pipeline, request: ExhaustRequest, error_name: str, message: str, started_at: str | None
) -> ExhaustRequest:
    moment = pipeline.clock()
    if error_name == PERMANENT_ERROR:
        return _fail(pipeline, request, request.attempts + 1, message, error_name, started_at)
    if error_name in INFRASTRUCTURE_ERRORS:
        since = request.transientSince or moment
        if moment - since < pipeline.transient_outage_limit_seconds * 1000:
            return _requeue(
                pipeline,
                request,
                {
                    "deferrals": request.deferrals + 1,
                    "transientSince": since,
                    "statusMessage": DEFERRED_MESSAGE.format(message=message),
                },
                pipeline.transient_retry_delay_seconds,
                error_name,
            )
        minutes = pipeline.transient_outage_limit_seconds // 60
        shown = OUTAGE_MESSAGE.format(minutes=minutes, message=message)
        return _fail(pipeline, request, request.attempts, shown, error_name, started_at)
    attempts = request.attempts + 1
    if error_name == MAP_ITEM_FAILED:
        message = "building one of the batches failed unexpectedly"
    if attempts >= MAX_ATTEMPTS:
        shown = RETRIES_EXHAUSTED_MESSAGE.format(attempts=attempts, message=message)
        return _fail(pipeline, request, attempts, shown, error_name, started_at)
    delay = retry_delay_seconds(attempts, pipeline.retry_base_delay_seconds)
    # A batch that outgrew the builder is worth telling while it is tried again: it may well outgrow it again.
    retrying = None
    if error_name == FUNCTION_LIMIT_ERROR:
        retrying = RETRYING_MESSAGE.format(message=message, attempt=attempts + 1, max_attempts=MAX_ATTEMPTS)
    return _requeue(pipeline, request, {"attempts": attempts, "statusMessage": retrying}, delay, error_name)


def _fail(
    pipeline: Pipeline,
    request: ExhaustRequest,
    attempts: int,
    message: str,
    error_name: str,
    started_at: str | None,
) -> ExhaustRequest:
    moment = pipeline.clock()
    ended = request.model_copy(
        update={
            "status": Status.FAILED,
            "statusMessage": message,
            "attempts": attempts,
            "completedAt": moment,
            "executionTimeMs": elapsed_ms(started_at, moment),
            "encryptedKey": None,
            "transientSince": None,
            "updatedAt": moment,
        }
    )
    ended = ended.model_copy(update={"outbox": notices_for(ended)})
    stored = pipeline.store.replace(ended, request.version)
    observability.count(observability.REQUESTS_FAILED, request.dataset)
    logger.info("request failed", extra={"request_id": request.requestId, "attempts": attempts, "error": error_name})
    return pipeline.announce(stored)


def _requeue(
    pipeline: Pipeline, request: ExhaustRequest, changes: dict[str, Any], delay: int, error_name: str
) -> ExhaustRequest:
    """SUBMITTED again, queued with `delay`. The message goes first: if sending fails nothing is written and
    the step fails as a transient error, so Step Functions retries it (a message sent for a write that then
    lost its race is harmless: the dispatcher starts one execution per attempt)."""
    try:
        pipeline.queue.send(request.requestId, changes.get("attempts", request.attempts), delay_seconds=delay)
    except Exception as error:
        raise TransientFailure(f"could not queue request {request.requestId} again: {error}") from error
    again = request.model_copy(
        update={"status": Status.SUBMITTED, "executionArn": None, "updatedAt": pipeline.clock(), **changes}
    )
    stored = pipeline.store.replace(again, request.version)
    logger.info(
        "attempt ended; request queued again",
        extra={
            "request_id": request.requestId,
            "attempts": stored.attempts,
            "deferrals": stored.deferrals,
            "error": error_name,
            "delay": delay,
        },
    )
    return stored
