"""BuildBatch: one batch's encrypted zip, built and recorded; a batch an earlier attempt recorded is not rebuilt.

The only step that decrypts the partner's encryptionKey. The zip is written under the request's prefix and recorded
in one transaction (the batch's record and the request's counters); an execution that lost the request meanwhile
records nothing, and its file goes when the request was cancelled.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from pydantic import BaseModel

from exhaust import observability
from exhaust.builders import BatchBuild
from exhaust.observability import logger
from exhaust.pipeline.errors import PermanentFailure, StaleExecution
from exhaust.pipeline.steps.context import MISSING_INPUT, Pipeline, classify, run_step
from exhaust.ports import NotOwned
from exhaust.requests.models import OutputFile
from exhaust.requests.outputs import key_prefix


class BuildBatchInput(BaseModel):
    requestId: str
    executionArn: str
    batchId: str


class BuildBatchOutput(BaseModel):
    batchId: str
    file: OutputFile


def build_batch(pipeline: Pipeline, step: BuildBatchInput) -> BuildBatchOutput:
    request_id, execution_arn, batch_id = step.requestId, step.executionArn, step.batchId
    request = pipeline.owned(request_id, execution_arn)
    existing = pipeline.store.batch_output(request, batch_id)
    if existing is not None:
        return BuildBatchOutput(batchId=batch_id, file=existing)
    if not request.encryptedKey:
        raise PermanentFailure(MISSING_INPUT)
    started = time.monotonic()
    try:
        password = pipeline.vault.decrypt(request.encryptedKey, request.requestId)
        build = BatchBuild(
            request.dataset,
            batch_id,
            request.channel,
            password,
            pipeline.lake,
            dt.datetime.now(dt.UTC).date(),
            csv_bom=request.datasetConfig.get("csvBom") is True,
        )
        built = pipeline.build_file(
            build,
            pipeline.settings.exhaust_bucket,
            key_prefix(request),
            compresslevel=pipeline.settings.zip_compression_level,
        )
    except Exception as error:
        raise classify(error) from error
    output = OutputFile(
        name=built.name, key=built.key, rows=built.rows, bytes=built.bytes, sha256=built.sha256, batchId=batch_id
    )
    try:
        counted = pipeline.store.record_batch(request, execution_arn, output, pipeline.clock())
    except NotOwned:
        pipeline.discard_if_cancelled(request_id, output.key)
        raise StaleExecution(f"{execution_arn} no longer owns request {request_id}") from None
    if counted:
        observability.record_build(request.dataset, output.rows, output.bytes, time.monotonic() - started)
    logger.info(
        "batch built",
        extra={
            "request_id": request_id,
            "batch_id": batch_id,
            "rows": output.rows,
            "rows_from": built.rows_from,
            "counted": counted,
        },
    )
    return BuildBatchOutput(batchId=batch_id, file=output)


def handle(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The builder function's entry: the workflow's BuildBatch Payload (BuildBatchInput) -> BuildBatchOutput."""
    return run_step(pipeline, event, BuildBatchInput, build_batch)
