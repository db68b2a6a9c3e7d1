"""The exhaust workflow, defined once in Amazon States Language.

    Plan --> BuildBatches (Distributed Map: one BuildBatch per batch) --> Finalize
    any state's Catch --> MarkFailed

The CDK state machine (infra/pipeline.py) deploys this document with the functions' ARNs and the exhaust bucket's
name substituted for the `${...}` placeholders; local mode's runner (exhaust.pipeline.runner) executes the same
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

from exhaust.resources import PIPELINE_PREFIX

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
S3_PUT_OBJECT = "arn:aws:states:::s3:putObject"

# Placeholders of the functions' ARNs (definition substitutions in CDK, callables in the local runner).
BUILDER_FUNCTION = "BuilderFunctionArn"
FINALIZE_FUNCTION = "FinalizeFunctionArn"
MARK_FAILED_FUNCTION = "MarkFailedFunctionArn"
FUNCTION_PLACEHOLDERS = (BUILDER_FUNCTION, FINALIZE_FUNCTION, MARK_FAILED_FUNCTION)
# The bucket of the plans and the map's results (the exhaust bucket), substituted like the functions.
BUCKET_PLACEHOLDER = "ExhaustBucketName"
# The pipeline's working files in that bucket, under PIPELINE_PREFIX (expired by a lifecycle rule): Plan's batch
# lists under plans/, the map's results under map-results/{map run id}/ (the ResultWriter adds the id).
PLANS_PREFIX = f"{PIPELINE_PREFIX}plans/"
MAP_RESULTS_PREFIX = f"{PIPELINE_PREFIX}map-results"

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

PERMANENT_ERROR = "PermanentFailure"
# A function that ran out of its timeout or memory: Step Functions reports Lambda's unhandled errors, "out-of-memory
# errors and function timeouts", as Lambda.Unknown (Step Functions developer guide, "Handle Lambda service
# exceptions", https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html). Caught per
# batch, never retried inside the execution: the same batch under the same limits would most likely run out again.
FUNCTION_LIMIT_ERROR = "Lambda.Unknown"
# Lambda refuses invocations beyond the account's (or the function's reserved) concurrency with this error.
THROTTLING_ERRORS = ("Lambda.TooManyRequestsException",)
TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "States.Timeout",
    "TransientFailure",
)
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


_REQUEST = {"requestId.$": "$.requestId", "executionArn.$": "$$.Execution.Id"}


def workflow_definition(map_max_concurrency: int = DEFAULT_MAP_MAX_CONCURRENCY) -> dict[str, Any]:
    """The workflow document. Its input is `{"requestId": ..., "attempt": n}` (what the dispatcher starts)."""
    build_batch = _invoke(
        BUILDER_FUNCTION,
        {"step": "build", "requestId.$": "$.requestId", "executionArn.$": "$.executionArn", "batchId.$": "$.batchId"},
    )
    build_batch.update(
        {
            "ResultSelector": {"batchId.$": "$.Payload.batchId", "file.$": "$.Payload.file"},
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
    plan = _invoke(BUILDER_FUNCTION, {"step": "plan", **_REQUEST})
    plan.update(
        {
            "ResultSelector": {"key.$": "$.Payload.key", "batches.$": "$.Payload.batches"},
            "ResultPath": "$.plan",
            "Retry": _transient_retry(),
            "Catch": _to_mark_failed(),
            "Next": BUILD_BATCHES,
        }
    )
    finalize = _invoke(
        FINALIZE_FUNCTION,
        {**_REQUEST, "startedAt.$": "$$.Execution.StartTime", "mapResults.$": "$.results.ResultWriterDetails"},
    )
    finalize.update({"ResultPath": None, "Retry": _transient_retry(), "Catch": _to_mark_failed(), "End": True})
    mark_failed = _invoke(
        MARK_FAILED_FUNCTION, {**_REQUEST, "startedAt.$": "$$.Execution.StartTime", "error.$": "$.error"}
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
            "ItemSelector": {**_REQUEST, "batchId.$": "$$.Map.Item.Value"},
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
