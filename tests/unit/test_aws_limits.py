"""Local mode refuses what AWS refuses: each AWS limit of exhaust.aws_limits, exceeded, fails here."""

from __future__ import annotations

from typing import Any

import pytest
from exhaust import aws_limits
from exhaust.pipeline import definition as wf
from exhaust.pipeline.runner import LocalRunner, StatesError

ARN = "arn:aws:states:us-east-1:1:execution:m:R-1-0"


def test_the_limits_are_aws_documented_values():
    assert aws_limits.STATE_PAYLOAD_MAX_BYTES == 262_144
    assert aws_limits.DYNAMODB_ITEM_MAX_BYTES == 409_600
    assert aws_limits.SQS_MESSAGE_MAX_BYTES == 262_144
    assert aws_limits.LAMBDA_SYNC_RESPONSE_MAX_BYTES == 6_291_456
    assert aws_limits.API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS == 29


def test_dynamodb_item_size_counts_names_and_utf8_values():
    assert aws_limits.dynamodb_item_size({"ab": "xyz"}) == 5
    assert aws_limits.dynamodb_item_size({"é": "é"}) == 4
    assert aws_limits.dynamodb_item_size({"n": 12345}) == 1 + 4
    assert aws_limits.dynamodb_item_size({"m": {"k": "v"}}) == 1 + 3 + 1 + 1 + 1


def workflow_runner(
    build_answer: dict[str, Any], batches: list[Any]
) -> tuple[LocalRunner, list[tuple[str, dict[str, Any]]]]:
    called: list[tuple[str, dict[str, Any]]] = []

    def builder(event: dict[str, Any]) -> Any:
        called.append((event["step"], event))
        return {"batches": batches} if event["step"] == "plan" else {**build_answer, "batchId": event["batchId"]}

    def finalize(event: dict[str, Any]) -> Any:
        called.append(("finalize", event))
        return {"status": "SUCCESS"}

    def mark_failed(event: dict[str, Any]) -> Any:
        called.append(("mark_failed", event))
        return {"status": "FAILED"}

    functions = {wf.BUILDER_FUNCTION: builder, wf.FINALIZE_FUNCTION: finalize, wf.MARK_FAILED_FUNCTION: mark_failed}
    return LocalRunner(wf.workflow_definition(2), functions, sleep=lambda _: None), called


def steps(called: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [step for step, _ in called]


def test_a_task_result_over_the_state_quota_fails_the_execution_uncaught():
    # A plan of more batch ids than one state can carry: Plan's States.ALL catcher does not take the error.
    runner, called = workflow_runner({"rows": 1}, ["b" * 1000] * 300)
    with pytest.raises(StatesError) as failure:
        runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert failure.value.error == "States.DataLimitExceeded"
    assert "a task's result is" in failure.value.cause
    assert "over the state payload quota of 262144" in failure.value.cause
    assert steps(called) == ["plan"]


def test_a_batch_result_over_the_quota_fails_its_item_and_the_request():
    runner, called = workflow_runner({"rows": 1, "note": "x" * aws_limits.STATE_PAYLOAD_MAX_BYTES}, ["b1"])
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert steps(called)[-1] == "mark_failed"
    error = called[-1][1]["error"]
    assert error["Error"] == "States.ExceedToleratedFailureThreshold"
    assert "States.DataLimitExceeded" in error["Cause"]


def test_map_results_that_add_up_over_the_quota_fail_at_the_map_output():
    # Issue 13: the map collects its results inline ($.results). 2,000 batches of 64-character ids plan within
    # the quota; the plan and the results together do not.
    batches = [f"{index:064d}" for index in range(2000)]
    runner, called = workflow_runner({"rows": 1}, batches)
    with pytest.raises(StatesError) as failure:
        runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert failure.value.error == "States.DataLimitExceeded"
    assert f"the output of state {wf.BUILD_BATCHES}" in failure.value.cause
    assert steps(called).count("build") == 2000


def test_results_under_the_quota_run_to_the_end():
    runner, called = workflow_runner({"rows": 1}, [f"{index:064d}" for index in range(1000)])
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert steps(called)[-1] == "finalize"
