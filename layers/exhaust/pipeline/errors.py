"""Errors the workflow's Retry and Catch clauses know by name (Step Functions sees the exception class name)."""

from __future__ import annotations

PERMANENT_ERROR = "PermanentFailure"
TRANSIENT_ERROR = "TransientFailure"
# Lambda refuses invocations beyond the account's (or the function's reserved) concurrency with this error.
THROTTLING_ERRORS = ("Lambda.TooManyRequestsException",)
TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "States.Timeout",
    TRANSIENT_ERROR,
)
# A function that ran out of its timeout or memory: Step Functions reports Lambda's unhandled errors, "out-of-memory
# errors and function timeouts", as Lambda.Unknown (Step Functions developer guide, "Handle Lambda service
# exceptions", https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html). Caught per
# batch, never retried inside the execution: the same batch under the same limits would most likely run out again.
FUNCTION_LIMIT_ERROR = "Lambda.Unknown"
# What a Distributed Map whose item failed reports (its items' own errors are not told apart).
MAP_ITEM_FAILED = "States.ExceedToleratedFailureThreshold"
# The sweeper ends an attempt with this error when its execution ended (or never started) without finishing the
# request: the infrastructure's failure, not the request's.
EXECUTION_LOST = "States.ExecutionLost"


class PermanentFailure(Exception):
    """The request cannot succeed whatever the attempts (no data, invalid request): FAILED, never retried."""


class TransientFailure(Exception):
    """Throttling, timeouts, a dependency briefly away: the state is retried with backoff."""


class StaleExecution(Exception):
    """The execution no longer owns the request (a newer attempt or a re-submit took it over): change nothing."""
