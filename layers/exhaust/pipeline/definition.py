"""The exhaust workflow, defined once in Amazon States Language.

    Plan --> BuildBatches (Distributed Map: one BuildBatch per batch) --> Finalize
    any state's Catch --> MarkFailed

The CDK state machine (infra/pipeline.py) deploys this document with the functions' ARNs and the exhaust bucket's
name substituted for the `${...}` placeholders; local mode's runner (exhaust_devkit.pipeline.runner) executes the same
document in-process with the functions bound to Python callables. tests/infra compares the synthesized states with
these.

Nothing that grows with the request travels inline: Plan writes the batch ids to S3 as a JSON array and answers
only its key, the Distributed Map reads them with an ItemReader and writes its children's results to S3 with a
ResultWriter (its own output is the Map Run's ARN and the results' manifest key), and Finalize reads them there.
So the state payload stays a few hundred bytes at 10,000 batches (docs/scaling.md).

Retries: every task retries Lambda's throttling (THROTTLING_ERRORS) up to 9 times in all, 2 s doubling to at most
60 s with full jitter (about 4 minutes of throttling absorbed), and the other errors of TRANSIENT_ERRORS (Lambda
service errors, timeouts, our TransientFailure) 3 times in all. PermanentFailure is never retried. Inside the map
a batch's permanent or transient failure, and a builder that ran out of time or memory (FUNCTION_LIMIT_ERROR), is
caught per batch (BatchFailed, with its Error) so the other batches finish and Finalize decides: FAILED with the
permanent message, the request deferred (queued again without using an attempt), or an attempt counted with the
builder's limits named. Anywhere else these reach MarkFailed, which does the same. Any other error fails the map into
MarkFailed, which retries the whole request (a new execution) while it has attempts left.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from exhaust.pipeline.errors import FUNCTION_LIMIT_ERROR, PERMANENT_ERROR, THROTTLING_ERRORS, TRANSIENT_ERRORS
from exhaust.pipeline.steps.build_batch import BuildBatchInput, BuildBatchOutput
from exhaust.pipeline.steps.finalize import FinalizeInput
from exhaust.pipeline.steps.mark_failed import MarkFailedInput
from exhaust.pipeline.steps.plan import PlanInput, PlanOutput
from exhaust.resources import MAP_RESULTS_PREFIX as MAP_RESULTS_PREFIX
from exhaust.resources import PLANS_PREFIX as PLANS_PREFIX

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
S3_PUT_OBJECT = "arn:aws:states:::s3:putObject"

# Placeholders of the functions' ARNs (definition substitutions in CDK, callables in the local runner), one function
# per step: Plan and BuildBatch run the builder image (both read the lake with pyarrow), each with its own handler.
PLAN_FUNCTION = "PlanFunctionArn"
BUILDER_FUNCTION = "BuilderFunctionArn"
FINALIZE_FUNCTION = "FinalizeFunctionArn"
MARK_FAILED_FUNCTION = "MarkFailedFunctionArn"
FUNCTION_PLACEHOLDERS = (PLAN_FUNCTION, BUILDER_FUNCTION, FINALIZE_FUNCTION, MARK_FAILED_FUNCTION)
# The bucket of the plans and the map's results (the exhaust bucket), substituted like the functions. The
# pipeline's working files there (exhaust.resources): PLANS_PREFIX and MAP_RESULTS_PREFIX, expired by a lifecycle rule.
BUCKET_PLACEHOLDER = "ExhaustBucketName"

PLAN, BUILD_BATCHES, BUILD_BATCH, BATCH_FAILED, FINALIZE, MARK_FAILED = (
    "Plan",
    "BuildBatches",
    "BuildBatch",
    "BatchFailed",
    "Finalize",
    "MarkFailed",
)
# The states of the top level and of the map's item processor, as the local runner and the state machine have them.
TOP_LEVEL_STATES = (PLAN, BUILD_BATCHES, FINALIZE, MARK_FAILED)
ITEM_STATES = (BUILD_BATCH, BATCH_FAILED)

RETRY_INTERVAL_SECONDS = 2
RETRY_MAX_ATTEMPTS = 2  # retries after the first try: 3 attempts in all
RETRY_BACKOFF_RATE = 2.0
# Throttling lasts as long as the burst that caused it: 2, 4, ... capped at 60 s (MaxDelaySeconds), 8 retries.
THROTTLE_RETRY_MAX_ATTEMPTS = 8
THROTTLE_RETRY_MAX_DELAY_SECONDS = 60
DEFAULT_MAP_MAX_CONCURRENCY = 10


def _placeholder(name: str) -> str:
    return "${" + name + "}"


def _transient_retry() -> list[dict[str, Any]]:
    """The first retrier whose ErrorEquals matches applies: throttling first, with its longer schedule."""
    return [
        {
            "ErrorEquals": list(THROTTLING_ERRORS),
            "IntervalSeconds": RETRY_INTERVAL_SECONDS,
            "MaxAttempts": THROTTLE_RETRY_MAX_ATTEMPTS,
            "BackoffRate": RETRY_BACKOFF_RATE,
            "MaxDelaySeconds": THROTTLE_RETRY_MAX_DELAY_SECONDS,
            "JitterStrategy": "FULL",
        },
        {
            "ErrorEquals": list(TRANSIENT_ERRORS),
            "IntervalSeconds": RETRY_INTERVAL_SECONDS,
            "MaxAttempts": RETRY_MAX_ATTEMPTS,
            "BackoffRate": RETRY_BACKOFF_RATE,
            "JitterStrategy": "FULL",
        },
    ]


def _to_mark_failed() -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": MARK_FAILED}]


def _invoke(function: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": _placeholder(function), "Payload": payload},
    }


def _payload(step_input: type[BaseModel], **paths: str) -> dict[str, str]:
    """A Task's Payload: every field of the step's input model, each taken from its path; a field of the model
    left out, or a path the model does not have, is refused here rather than by the function at run time."""
    fields = set(step_input.model_fields)
    if set(paths) != fields:
        raise ValueError(f"{step_input.__name__} has the fields {sorted(fields)}; the payload gives {sorted(paths)}")
    return {f"{name}.$": path for name, path in paths.items()}


def _result_selector(step_output: type[BaseModel]) -> dict[str, str]:
    """Every field of the step's output model, from the Lambda answer's Payload."""
    return {f"{name}.$": f"$.Payload.{name}" for name in step_output.model_fields}


REQUEST_ID, EXECUTION_ARN, STARTED_AT = "$.requestId", "$$.Execution.Id", "$$.Execution.StartTime"


def workflow_definition(map_max_concurrency: int = DEFAULT_MAP_MAX_CONCURRENCY) -> dict[str, Any]:
    """The workflow document. Its input is `{"requestId": ..., "attempt": n}` (what the dispatcher starts)."""
    build_batch = _invoke(
        BUILDER_FUNCTION,
        _payload(BuildBatchInput, requestId="$.requestId", executionArn="$.executionArn", batchId="$.batchId"),
    )
    build_batch.update(
        {
            "ResultSelector": _result_selector(BuildBatchOutput),
            "Retry": _transient_retry(),
            "Catch": [
                {
                    "ErrorEquals": [PERMANENT_ERROR, FUNCTION_LIMIT_ERROR, *THROTTLING_ERRORS, *TRANSIENT_ERRORS],
                    "ResultPath": "$.failure",
                    "Next": BATCH_FAILED,
                }
            ],
            "End": True,
        }
    )
    plan = _invoke(PLAN_FUNCTION, _payload(PlanInput, requestId=REQUEST_ID, executionArn=EXECUTION_ARN))
    plan.update(
        {
            "ResultSelector": _result_selector(PlanOutput),
            "ResultPath": "$.plan",
            "Retry": _transient_retry(),
            "Catch": _to_mark_failed(),
            "Next": BUILD_BATCHES,
        }
    )
    finalize = _invoke(
        FINALIZE_FUNCTION,
        _payload(
            FinalizeInput,
            requestId=REQUEST_ID,
            executionArn=EXECUTION_ARN,
            startedAt=STARTED_AT,
            mapResults="$.results.ResultWriterDetails",
        ),
    )
    finalize.update({"ResultPath": None, "Retry": _transient_retry(), "Catch": _to_mark_failed(), "End": True})
    mark_failed = _invoke(
        MARK_FAILED_FUNCTION,
        _payload(
            MarkFailedInput, requestId=REQUEST_ID, executionArn=EXECUTION_ARN, startedAt=STARTED_AT, error="$.error"
        ),
    )
    mark_failed.update({"ResultPath": None, "Retry": _transient_retry(), "End": True})
    states: dict[str, Any] = {
        PLAN: plan,
        BUILD_BATCHES: {
            "Type": "Map",
            "ItemReader": {
                "Resource": S3_GET_OBJECT,
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": _placeholder(BUCKET_PLACEHOLDER), "Key.$": "$.plan.key"},
            },
            "ItemSelector": {
                "requestId.$": REQUEST_ID,
                "executionArn.$": EXECUTION_ARN,
                "batchId.$": "$$.Map.Item.Value",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": BUILD_BATCH,
                "States": {
                    BUILD_BATCH: build_batch,
                    BATCH_FAILED: {
                        "Type": "Pass",
                        "Parameters": {
                            "batchId.$": "$.batchId",
                            "error.$": "$.failure.Error",
                            "failure.$": "$.failure.Cause",
                        },
                        "End": True,
                    },
                },
            },
            "MaxConcurrency": map_max_concurrency,
            "Label": "BuildBatches",
            "ResultWriter": {
                "Resource": S3_PUT_OBJECT,
                "Parameters": {"Bucket": _placeholder(BUCKET_PLACEHOLDER), "Prefix": MAP_RESULTS_PREFIX},
            },
            "ResultPath": "$.results",
            "Catch": _to_mark_failed(),
            "Next": FINALIZE,
        },
        FINALIZE: finalize,
        MARK_FAILED: mark_failed,
    }
    return {
        "Comment": "Exhaust request: plan the batches, build each into an encrypted zip, finalize (docs/pipeline.md)",
        "StartAt": PLAN,
        "States": copy.deepcopy(states),
    }


def task_functions(definition: dict[str, Any]) -> dict[str, str]:
    """State name -> the function placeholder it invokes, over the top level and the map's item processor."""
    found: dict[str, str] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state["Type"] == "Task":
                found[name] = state["Parameters"]["FunctionName"].removeprefix("${").removesuffix("}")
            if state["Type"] == "Map":
                walk(state["ItemProcessor"]["States"])

    walk(definition["States"])
    return found
