"""MarkFailed: what every top-level state's Catch reaches; ends the attempt (exhaust.pipeline.steps.attempts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from exhaust.observability import logger
from exhaust.pipeline.errors import StaleExecution
from exhaust.pipeline.steps.attempts import end_attempt
from exhaust.pipeline.steps.context import Pipeline, failure_message, run_step

UNNAMED_ERROR = "States.Runtime"


class CaughtError(BaseModel):
    """What a Catch clause puts at its ResultPath: the error's name and its cause (a Lambda error's JSON, or text)."""

    Error: str | None = None
    Cause: str | None = None


class MarkFailedInput(BaseModel):
    requestId: str
    executionArn: str
    startedAt: str | None = None  # the execution's start (ISO 8601), for executionTime
    error: CaughtError = Field(default_factory=CaughtError)


class MarkFailedOutput(BaseModel):
    requestId: str
    status: str | None  # None: the execution no longer owned the request, which is left as it is


def mark_failed(pipeline: Pipeline, step: MarkFailedInput) -> MarkFailedOutput:
    name = step.error.Error or UNNAMED_ERROR
    try:
        request = pipeline.owned(step.requestId, step.executionArn)
        ended = end_attempt(pipeline, request, name, failure_message(step.error.Cause), step.startedAt)
    except StaleExecution:
        logger.info("stale execution failed; request left as it is", extra={"request_id": step.requestId})
        return MarkFailedOutput(requestId=step.requestId, status=None)
    return MarkFailedOutput(requestId=step.requestId, status=ended.status.value)


def handle(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The mark_failed function's entry: the workflow's MarkFailed Payload (MarkFailedInput) -> MarkFailedOutput."""
    return run_step(pipeline, event, MarkFailedInput, mark_failed)
