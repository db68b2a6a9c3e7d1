"""The lake index's document on the local runner with its steps stubbed: which state runs for which look, what the
Spark task is given, and how a failure ends; and the runner's Choice rules, as Step Functions evaluates them."""

from __future__ import annotations

from typing import Any

import pytest
from exhaust.pipeline import index_definition as index
from exhaust_devkit.local.indexer import SPARK_ABOVE_ENROLMENTS, spark_above_enrolments, start_job_run_sync
from exhaust_devkit.local.state import LocalSetupError
from exhaust_devkit.pipeline.runner import LocalRunner, StatesError, choose

EXECUTION = "arn:aws:states:us-east-1:1:execution:exhaust-dev-lake-index:run-7"


class Steps:
    """The indexer function's steps as stubs: the look answers `engine`; every call is kept."""

    def __init__(self, engine: str, index_fails: bool = False):
        self.engine = engine
        self.index_fails = index_fails
        self.calls: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []

    def indexer(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(payload)
        if payload["step"] == "look":
            return {"stale": self.engine != "none", "engine": self.engine, "enrolments": 7, "reasons": {}}
        if payload["step"] == "index":
            if self.index_fails:
                raise MemoryError("Runtime exited with error: signal: killed")
            return {"engine": "lambda", "rows": {}}
        return {"outcome": payload["outcome"]}

    def job(self, parameters: dict[str, Any]) -> dict[str, Any]:
        self.jobs.append(parameters)
        return {"ApplicationId": parameters["ApplicationId"], "JobRunId": "j1", "State": "SUCCESS"}

    def runner(self, threshold: int = 10) -> LocalRunner:
        return LocalRunner(
            definition=index.index_definition(threshold),
            functions={index.INDEXER_FUNCTION: self.indexer},
            substitutions={
                index.SPARK_APPLICATION: "app-1",
                index.SPARK_JOB_ROLE: "arn:aws:iam::1:role/job",
                index.LAKE_URI: "s3://lake-bucket/lake",
                index.REGION: "ap-south-1",
            },
            services={index.EMR_SERVERLESS_START_JOB_RUN_SYNC: self.job},
        )

    def steps(self) -> list[str]:
        return [f"{call['step']}:{call['outcome']}" if "outcome" in call else call["step"] for call in self.calls]


def test_the_look_is_given_the_threshold_and_its_own_execution():
    steps = Steps("none")
    steps.runner(threshold=1234).run(EXECUTION, {})
    (look,) = steps.calls
    assert look == {"step": "look", "executionArn": EXECUTION, "sparkAboveEnrolments": 1234}


def test_nothing_runs_after_a_fresh_look():
    steps = Steps("none")
    steps.runner().run(EXECUTION, {})
    assert steps.steps() == ["look"]
    assert steps.jobs == []


def test_a_small_lake_is_indexed_by_the_lambda_step_then_recorded():
    steps = Steps("lambda")
    steps.runner().run(EXECUTION, {})
    assert steps.steps() == ["look", "index", "record:indexed"]
    assert steps.jobs == []


def test_a_large_lake_runs_the_spark_job_of_the_stacks_application_on_its_lake():
    steps = Steps("spark")
    output = steps.runner().run(EXECUTION, {})
    assert steps.steps() == ["look", "record:indexed"]
    (job,) = steps.jobs
    assert job["ApplicationId"] == "app-1"
    assert job["ExecutionRoleArn"] == "arn:aws:iam::1:role/job"
    assert job["Name"] == "run-7"
    assert job["ExecutionTimeoutMinutes"] == index.SPARK_TIMEOUT_MINUTES
    submit = job["JobDriver"]["SparkSubmit"]
    assert submit["EntryPoint"] == index.SPARK_ENTRY_POINT
    assert submit["EntryPointArguments"] == ["--lake", "s3://lake-bucket/lake"]
    assert "spark.executorEnv.PYSPARK_PYTHON=/usr/bin/python3.11" in submit["SparkSubmitParameters"]
    assert "--conf spark.executorEnv.AWS_REGION=ap-south-1" in submit["SparkSubmitParameters"]
    assert "--conf spark.emr-serverless.driverEnv.AWS_REGION=ap-south-1" in submit["SparkSubmitParameters"]
    assert output["index"]["JobRunId"] == "j1"
    record = steps.calls[-1]
    assert record["run"]["index"]["JobRunId"] == "j1"  # the record sees the job run


def test_a_failed_index_is_recorded_then_fails_the_execution():
    steps = Steps("lambda", index_fails=True)
    with pytest.raises(StatesError) as failed:
        steps.runner().run(EXECUTION, {})
    assert failed.value.error == index.INDEX_FAILED_ERROR
    assert steps.steps() == ["look", "index", "record:failed"]
    error = steps.calls[-1]["run"]["error"]
    # An indexer out of memory ends as Step Functions reports it: Lambda.Unknown, the cause naming the memory.
    assert error["Error"] == "Lambda.Unknown"
    assert "ran out of memory" in error["Cause"]
    assert "signal: killed" in error["Cause"]


def test_a_failed_spark_job_run_is_a_task_failure_with_its_state_in_the_cause():
    def job(lake_uri: str) -> dict[str, int]:
        raise RuntimeError("users: column phone is int64, not string")

    with pytest.raises(StatesError) as failed:
        start_job_run_sync(job)(
            {
                "ApplicationId": "a",
                "Name": "n",
                "JobDriver": {"SparkSubmit": {"EntryPointArguments": ["--lake", "/tmp/lake"]}},
            }
        )
    assert failed.value.error == "States.TaskFailed"
    assert '"State": "FAILED"' in failed.value.cause
    assert "column phone is int64" in failed.value.cause


def test_the_local_threshold_comes_from_the_stacks_setting_name():
    assert spark_above_enrolments({}) == 1_000_000
    assert spark_above_enrolments({SPARK_ABOVE_ENROLMENTS: "0"}) == 0
    with pytest.raises(LocalSetupError, match="EXHAUST_SPARK_ABOVE_ENROLMENTS: must be a whole number"):
        spark_above_enrolments({SPARK_ABOVE_ENROLMENTS: "many"})


CHOICE = {
    "Type": "Choice",
    "Choices": [
        {"Variable": "$.flag", "BooleanEquals": True, "Next": "Flagged"},
        {"Variable": "$.count", "NumericGreaterThan": 10, "Next": "Many"},
        {"Variable": "$.name", "StringEquals": "x", "Next": "Named"},
        {"Variable": "$.maybe", "IsPresent": True, "Next": "Present"},
    ],
    "Default": "Otherwise",
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"flag": True, "count": 0, "name": ""}, "Flagged"),
        ({"flag": False, "count": 11, "name": ""}, "Many"),
        ({"flag": False, "count": 10, "name": "x"}, "Named"),
        ({"flag": "true", "count": "11", "name": "y", "maybe": None}, "Present"),  # types must match, as in ASL
        ({"flag": False, "count": 0, "name": "y"}, "Otherwise"),
    ],
)
def test_choice_rules_as_step_functions_evaluates_them(data, expected):
    assert choose(CHOICE, data, {}) == expected


def test_a_missing_choice_variable_and_no_match_without_default_are_runtime_errors():
    with pytest.raises(StatesError) as missing:
        choose(CHOICE, {"count": 0}, {})
    assert missing.value.error == "States.Runtime"
    no_default = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "A"}]}
    with pytest.raises(StatesError) as unmatched:
        choose(no_default, {"n": 0}, {})
    assert unmatched.value.error == "States.NoChoiceMatched"
