"""Plan: resolve the request's batches, enforce the dataset's limits, record batchesTotal, write the batches to build.

The batch ids go to S3 (one JSON array per execution) for the Distributed Map's ItemReader; the step answers only
their key and count, so the state stays small at any number of batches.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from exhaust import aws
from exhaust import readiness as lake_readiness
from exhaust.builders.errors import BATCH_EXPIRED, CONSENT_NOT_REQUESTED, NO_DATA_FOUND, RETIRED_COLLECTION
from exhaust.datasets.ids import DEFAULT_MAX_BATCHES_PER_REQUEST, ORG_SCOPED_DATASETS
from exhaust.observability import logger
from exhaust.pipeline.errors import PermanentFailure
from exhaust.pipeline.steps.context import MISSING_INPUT, Pipeline, classify, run_step
from exhaust.requests.models import ExhaustRequest
from exhaust.resources import PLANS_PREFIX

if TYPE_CHECKING:
    from exhaust.lake.catalog import BatchInfo

USERINFO_DATASET = "userinfo-exhaust"


class PlanInput(BaseModel):
    requestId: str
    executionArn: str


class PlanOutput(BaseModel):
    key: str  # where the batch ids are, in the exhaust bucket
    batches: int


def plan_key(request_id: str, execution_arn: str) -> str:
    """Where Plan writes an execution's batch ids for the map's ItemReader (one file per execution)."""
    return f"{PLANS_PREFIX}{request_id}/{execution_arn.rpartition(':')[2]}.json"


def plan(pipeline: Pipeline, step: PlanInput) -> PlanOutput:
    request = pipeline.owned(step.requestId, step.executionArn)
    if not request.encryptedKey:
        raise PermanentFailure(MISSING_INPUT)
    if request.dataset in ORG_SCOPED_DATASETS:
        # The organisation is the scope: one unit of work, named by the channel (exhaust.builders).
        return record_plan(pipeline, step, [request.channel], readiness(pipeline, request, None))
    batches = unexpired(pipeline, own_batches(pipeline, request))
    live = within_limits(pipeline, request, batches)
    ready = readiness(pipeline, request, [batch.end_date for batch in live])
    return record_plan(pipeline, step, [batch.batch_id for batch in live], ready)


def handle(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The plan function's entry: the workflow's Plan Payload (PlanInput) -> PlanOutput."""
    return run_step(pipeline, event, PlanInput, plan)


def own_batches(pipeline: Pipeline, request: ExhaustRequest) -> list[BatchInfo]:
    """The batches the request's config names (batchId, batchFilter or searchFilter), of its own channel only:
    another channel's batch answers as if it did not exist."""
    config = request.datasetConfig
    if not any(config.get(name) for name in ("batchId", "batchFilter", "searchFilter")):
        raise PermanentFailure(MISSING_INPUT)
    try:
        found = pipeline.find_batches(pipeline.lake, request)
    except Exception as error:
        raise classify(error) from error
    batches = [info for info in found if info.channel == request.channel]
    if not batches:
        raise PermanentFailure(NO_DATA_FOUND)
    return batches


def unexpired(pipeline: Pipeline, batches: list[BatchInfo]) -> list[BatchInfo]:
    """The batches not expired (exhaust.lake.catalog.BatchInfo.expired); none left: the seed's message."""
    today = dt.datetime.fromtimestamp(pipeline.clock() / 1000, dt.UTC).date()
    current = [batch for batch in batches if not batch.expired(today, pipeline.settings.batch_expiry_days)]
    if not current:
        raise PermanentFailure(BATCH_EXPIRED)
    return current


def within_limits(pipeline: Pipeline, request: ExhaustRequest, batches: list[BatchInfo]) -> list[BatchInfo]:
    """The live (not retired) batches, within the dataset's maxBatchesPerRequest and consent rule."""
    live = [batch for batch in batches if not batch.retired]
    if not live:
        raise PermanentFailure(RETIRED_COLLECTION)
    dataset = pipeline.registry.get(request.dataset)
    limit = dataset.limits.maxBatchesPerRequest if dataset else DEFAULT_MAX_BATCHES_PER_REQUEST
    if len(live) > limit:
        raise PermanentFailure(f"Number of batches in request exceeded. It should be within {limit}")
    if request.dataset == USERINFO_DATASET and any(not batch.requires_consent for batch in live):
        raise PermanentFailure(CONSENT_NOT_REQUESTED)
    return live


def readiness(pipeline: Pipeline, request: ExhaustRequest, batch_end_dates: list[str | None] | None) -> dict[str, Any]:
    """dataAvailableUntil and dataComplete to record: the request is built either way, and marked."""
    try:
        return lake_readiness.readiness(pipeline.lake, request.submittedAt, batch_end_dates)
    except Exception as error:
        raise classify(error) from error


def record_plan(pipeline: Pipeline, step: PlanInput, wanted: list[str], ready: dict[str, Any]) -> PlanOutput:
    """Record batchesTotal and readiness; write every batch id to S3 for the map's ItemReader.

    All of them, also those an earlier attempt built: their BuildBatch answers the recorded file without
    building it again, so the map's results list every file of the request for Finalize.
    """

    def record(current: ExhaustRequest) -> ExhaustRequest:
        progress = current.progress.model_copy(update={"batchesTotal": len(wanted)})
        return current.model_copy(update={"progress": progress, **ready})

    planned = pipeline.update(step.requestId, step.executionArn, record)
    key = plan_key(step.requestId, step.executionArn)
    aws.client("s3").put_object(
        Bucket=pipeline.settings.exhaust_bucket,
        Key=key,
        Body=json.dumps(wanted).encode("utf-8"),
        ContentType="application/json",
    )
    logger.info(
        "request planned",
        extra={"request_id": step.requestId, "batches": len(wanted), "built": planned.progress.batchesDone},
    )
    return PlanOutput(key=key, batches=len(wanted))
