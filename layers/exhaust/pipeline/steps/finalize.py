"""Finalize: SUCCESS with the manifest, or the attempt ends with the batches' failures (permanent ones first).

The map's per-batch results come from its ResultWriter's files in S3 (map_results), never through the state.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from exhaust import aws, observability
from exhaust.observability import logger
from exhaust.pipeline.errors import FUNCTION_LIMIT_ERROR, PERMANENT_ERROR, StaleExecution
from exhaust.pipeline.notify import notices_for
from exhaust.pipeline.steps.attempts import elapsed_ms, end_attempt
from exhaust.pipeline.steps.context import Pipeline, failure_message, run_step
from exhaust.requests.models import ExhaustRequest, OutputFile, Status
from exhaust.requests.outputs import Manifests, listed_on_item

BUILDER_LIMIT_MESSAGE = (
    "building batch {batch_id} ran out of the builder's time ({timeout_seconds} s) or memory ({memory_mb} MB)"
)


class ResultWriterDetails(BaseModel):
    """Where the Distributed Map's ResultWriter put its manifest (the Map state's `ResultWriterDetails`)."""

    Bucket: str
    Key: str


class FinalizeInput(BaseModel):
    requestId: str
    executionArn: str
    startedAt: str | None = None  # the execution's start (ISO 8601), for executionTime
    mapResults: ResultWriterDetails


class FinalizeOutput(BaseModel):
    requestId: str
    status: str


class BatchResult(BaseModel):
    """One batch's result: BuildBatch's output for a built batch, BatchFailed's (error, failure) for a failed one."""

    batchId: str | None = None
    file: OutputFile | None = None
    error: str | None = None
    failure: str | None = None


def map_results(details: ResultWriterDetails) -> list[BatchResult]:
    """The map's per-batch results from its ResultWriter's files: the manifest lists the SUCCEEDED and FAILED
    files, JSON arrays of child executions; a failed child is a failed batch."""
    s3 = aws.client("s3")

    def read(bucket: str, key: str) -> Any:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    manifest = read(details.Bucket, details.Key)
    bucket = manifest.get("DestinationBucket") or details.Bucket
    results: list[BatchResult] = []
    for status in ("SUCCEEDED", "FAILED"):
        for listed in manifest.get("ResultFiles", {}).get(status, []):
            for child in read(bucket, listed["Key"]):
                if child.get("Status") == "SUCCEEDED":
                    results.append(BatchResult.model_validate(json.loads(child["Output"])))
                else:
                    batch_id = json.loads(child.get("Input") or "{}").get("batchId")
                    failure = child.get("Cause") or child.get("Error") or "the batch's execution failed"
                    results.append(BatchResult(batchId=batch_id, error=child.get("Error"), failure=failure))
    return results


def finalize(pipeline: Pipeline, step: FinalizeInput) -> FinalizeOutput:
    request = finish(pipeline, step, map_results(step.mapResults))
    return FinalizeOutput(requestId=request.requestId, status=request.status.value)


def handle(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The finalize function's entry: the workflow's Finalize Payload (FinalizeInput) -> FinalizeOutput."""
    return run_step(pipeline, event, FinalizeInput, finalize)


def finish(pipeline: Pipeline, step: FinalizeInput, results: list[BatchResult]) -> ExhaustRequest:
    failures = [result for result in results if result.failure]
    request = pipeline.owned(step.requestId, step.executionArn)
    if failures:
        # BatchFailed records the error's name; a result without one is a permanent failure.
        permanent = [f for f in failures if (f.error or PERMANENT_ERROR) == PERMANENT_ERROR]
        first = (permanent or failures)[0]
        name = PERMANENT_ERROR if permanent else str(first.error)
        message = failure_message(first.failure)
        if name == FUNCTION_LIMIT_ERROR:
            # Lambda reports no reason for a timeout or an out-of-memory end: the limits say where to look.
            message = BUILDER_LIMIT_MESSAGE.format(
                batch_id=first.batchId,
                timeout_seconds=pipeline.settings.builder_timeout_seconds,
                memory_mb=pipeline.settings.builder_memory_mb,
            )
        return end_attempt(pipeline, request, name, message, step.startedAt)
    files = sorted((result.file for result in results if result.file is not None), key=lambda f: f.name)
    written = Manifests(pipeline.settings.exhaust_bucket).write(request, files)
    moment = pipeline.clock()

    def succeed(current: ExhaustRequest) -> ExhaustRequest:
        return current.model_copy(
            update={
                "status": Status.SUCCESS,
                "statusMessage": None,
                "files": listed_on_item(files),
                "filesTotal": len(files),
                "completedAt": moment,
                "executionTimeMs": elapsed_ms(step.startedAt, moment),
                "encryptedKey": None,
                "transientSince": None,
                "outbox": notices_for(current),
            }
        )

    try:
        done = pipeline.update(step.requestId, step.executionArn, succeed)
    except StaleExecution:
        for key in written:
            pipeline.discard_if_cancelled(step.requestId, key)
        raise
    observability.count(observability.REQUESTS_SUCCEEDED, done.dataset)
    logger.info("request succeeded", extra={"request_id": step.requestId, "files": len(files)})
    return pipeline.announce(done)
