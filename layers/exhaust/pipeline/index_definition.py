"""The lake index's state machine, defined once in Amazon States Language (docs/lake.md, "The indexer").

    Look (indexer Lambda: listings only) --> ChooseEngine: fresh, or another run under way --> Fresh (end)
        stale, enrolments above the threshold --> IndexWithSpark (emr-serverless:startJobRun.sync, the Spark job)
        stale, otherwise                      --> IndexInLambda (the indexer Lambda, within a new account's 3,008 MB)
    --> Recorded (the outcome logged and counted)
    any failure --> RecordFailure --> IndexFailed (Fail: the execution fails, its alarm goes off)

The CDK state machine (infra/indexer.py) deploys this document with its placeholders substituted; local mode
(exhaust_devkit.local.indexer) and the tests run the same document with the dev kit's workflow runner, the Spark job
then running with pyspark in local mode. The threshold (`spark_above_enrolments`) is part of the document: the look
compares the lake's enrolments with it and answers the engine the Choice state follows.

A failed index leaves the previous derived tables in place (both engines write a table's new files before
removing the old ones), and builds keep deferring requests that need a fresh one (LakeNotIndexed) until a run
succeeds: the failure is retried by the next scheduled look, not here.
"""

from __future__ import annotations

import copy
from typing import Any

from exhaust.lake.indexer import DEFAULT_SPARK_ABOVE_ENROLMENTS, LAMBDA_ENGINE, SPARK_ENGINE
from exhaust.pipeline.definition import LAMBDA_INVOKE, THROTTLING_ERRORS, TRANSIENT_ERRORS

EMR_SERVERLESS_START_JOB_RUN_SYNC = "arn:aws:states:::emr-serverless:startJobRun.sync"

# Placeholders: the indexer function's ARN, the EMR Serverless application, the job's role, the lake's URI, the
# region (the job's S3 client is told it: the lake reader takes it from AWS_REGION, exhaust.lake.store).
INDEXER_FUNCTION = "IndexerFunctionArn"
SPARK_APPLICATION = "SparkApplicationId"
SPARK_JOB_ROLE = "SparkJobRoleArn"
LAKE_URI = "LakeUri"
REGION = "AwsRegion"

LOOK, CHOOSE, FRESH, INDEX_IN_LAMBDA, INDEX_WITH_SPARK, RECORDED, RECORD_FAILURE, INDEX_FAILED = (
    "Look",
    "ChooseEngine",
    "Fresh",
    "IndexInLambda",
    "IndexWithSpark",
    "Recorded",
    "RecordFailure",
    "IndexFailed",
)
INDEX_FAILED_ERROR = "LakeIndexFailed"

# The Spark job's entry point in its image (functions/spark.Dockerfile) and its Python, the image's own 3.11
# rather than the EMR release's system Python (EMR Serverless user guide, "Customizing an EMR Serverless image").
SPARK_ENTRY_POINT = "local:///opt/exhaust/spark_index.py"
SPARK_PYTHON = "/usr/bin/python3.11"
SPARK_SUBMIT_PARAMETERS = " ".join(
    [
        *(
            f"--conf {name}={SPARK_PYTHON}"
            for name in (
                "spark.emr-serverless.driverEnv.PYSPARK_PYTHON",
                "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON",
                "spark.executorEnv.PYSPARK_PYTHON",
            )
        ),
        *(
            f"--conf {name}=${{{REGION}}}"
            for name in ("spark.emr-serverless.driverEnv.AWS_REGION", "spark.executorEnv.AWS_REGION")
        ),
    ]
)
# A full index of the platform's 150 million enrolments is modelled at under 30 minutes (docs/scaling.md); a job
# still running after this is cancelled and the run fails.
SPARK_TIMEOUT_MINUTES = 180


# Lambda's service faults (of exhaust.pipeline.definition's transient errors, those that Lambda itself raises).
LAMBDA_SERVICE_ERRORS = tuple(error for error in TRANSIENT_ERRORS if error.startswith("Lambda."))


def _placeholder(name: str) -> str:
    return "${" + name + "}"


def _indexer(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": _placeholder(INDEXER_FUNCTION), "Payload": payload},
        "ResultSelector": {"result.$": "$.Payload"},
        # Lambda's own passing faults only: an index that fails is not run again within this execution.
        "Retry": [
            {
                "ErrorEquals": [*THROTTLING_ERRORS, *LAMBDA_SERVICE_ERRORS],
                "IntervalSeconds": 2,
                "MaxAttempts": 3,
                "BackoffRate": 2.0,
                "JitterStrategy": "FULL",
            }
        ],
    }


def _to_record_failure() -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": RECORD_FAILURE}]


def index_definition(spark_above_enrolments: int = DEFAULT_SPARK_ABOVE_ENROLMENTS) -> dict[str, Any]:
    """The index state machine's document. Its input is ignored (the schedule starts it with `{}`)."""
    look = _indexer(
        {"step": "look", "executionArn.$": "$$.Execution.Id", "sparkAboveEnrolments": spark_above_enrolments}
    )
    look.update({"ResultPath": "$.look", "Catch": _to_record_failure(), "Next": CHOOSE})
    in_lambda = _indexer({"step": "index"})
    in_lambda.update({"ResultPath": "$.index", "Catch": _to_record_failure(), "Next": RECORDED})
    with_spark = {
        "Type": "Task",
        "Resource": EMR_SERVERLESS_START_JOB_RUN_SYNC,
        "Parameters": {
            "ApplicationId": _placeholder(SPARK_APPLICATION),
            "ExecutionRoleArn": _placeholder(SPARK_JOB_ROLE),
            "Name.$": "$$.Execution.Name",
            "ExecutionTimeoutMinutes": SPARK_TIMEOUT_MINUTES,
            "JobDriver": {
                "SparkSubmit": {
                    "EntryPoint": SPARK_ENTRY_POINT,
                    "EntryPointArguments": ["--lake", _placeholder(LAKE_URI)],
                    "SparkSubmitParameters": SPARK_SUBMIT_PARAMETERS,
                }
            },
        },
        # The job run as Step Functions reports it (ids, state, resources used), kept whole for the record.
        "ResultPath": "$.index",
        "Catch": _to_record_failure(),
        "Next": RECORDED,
    }
    record = _indexer({"step": "record", "outcome": "indexed", "run.$": "$", "startedAt.$": "$$.Execution.StartTime"})
    record.update({"ResultPath": None, "End": True})
    record_failure = _indexer(
        {"step": "record", "outcome": "failed", "run.$": "$", "startedAt.$": "$$.Execution.StartTime"}
    )
    record_failure.update({"ResultPath": None, "Next": INDEX_FAILED})
    states: dict[str, Any] = {
        LOOK: look,
        CHOOSE: {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.look.result.engine", "StringEquals": SPARK_ENGINE, "Next": INDEX_WITH_SPARK},
                {"Variable": "$.look.result.engine", "StringEquals": LAMBDA_ENGINE, "Next": INDEX_IN_LAMBDA},
            ],
            "Default": FRESH,
        },
        FRESH: {"Type": "Succeed"},
        INDEX_IN_LAMBDA: in_lambda,
        INDEX_WITH_SPARK: with_spark,
        RECORDED: record,
        RECORD_FAILURE: record_failure,
        INDEX_FAILED: {
            "Type": "Fail",
            "Error": INDEX_FAILED_ERROR,
            "Cause": "The lake index failed: the previous derived tables stay in place (see the run's record)",
        },
    }
    return {
        "Comment": "Lake index: look at staleness, index in Lambda or with Spark on EMR Serverless (docs/lake.md)",
        "StartAt": LOOK,
        "States": copy.deepcopy(states),
    }
