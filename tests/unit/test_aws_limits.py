"""Local mode refuses what AWS refuses: each AWS limit of exhaust.aws_limits, exceeded, fails here."""

from __future__ import annotations

import json
from typing import Any

import pytest
from exhaust import aws_limits
from exhaust.pipeline import definition as wf
from exhaust.settings import RuntimeSettings
from exhaust_devkit.pipeline.runner import LocalRunner, StatesError
from pydantic import ValidationError

from tests.memory_objects import MemoryObjects

ARN = "arn:aws:states:us-east-1:1:execution:m:R-1-0"


def test_the_limits_are_aws_documented_values():
    assert aws_limits.STATE_PAYLOAD_MAX_BYTES == 262_144
    assert aws_limits.DYNAMODB_ITEM_MAX_BYTES == 409_600
    assert aws_limits.SQS_MESSAGE_MAX_BYTES == 262_144
    assert aws_limits.LAMBDA_SYNC_RESPONSE_MAX_BYTES == 6_291_456
    assert aws_limits.API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS == 29
    assert aws_limits.MAP_ITEM_MAX_BYTES == 262_144
    assert aws_limits.RESULT_WRITER_FILE_MAX_BYTES == 5 * 1024**3
    assert aws_limits.LAMBDA_MAX_TIMEOUT_SECONDS == 900


def test_a_builder_timeout_past_lambdas_is_refused_as_lambda_refuses_it():
    assert RuntimeSettings().builder_timeout_seconds == aws_limits.LAMBDA_MAX_TIMEOUT_SECONDS
    with pytest.raises(ValidationError, match="builder_timeout_seconds"):
        RuntimeSettings.from_environ({"EXHAUST_BUILDER_TIMEOUT_SECONDS": "901"})


def test_dynamodb_item_size_counts_names_and_utf8_values():
    assert aws_limits.dynamodb_item_size({"ab": "xyz"}) == 5
    assert aws_limits.dynamodb_item_size({"é": "é"}) == 4
    assert aws_limits.dynamodb_item_size({"n": 12345}) == 1 + 4
    assert aws_limits.dynamodb_item_size({"m": {"k": "v"}}) == 1 + 3 + 1 + 1 + 1


BUCKET = "exhaust-bucket"


def workflow_runner(
    build_answer: dict[str, Any], batches: Any, plan_extra: dict[str, Any] | None = None
) -> tuple[LocalRunner, list[tuple[str, dict[str, Any]]], MemoryObjects]:
    called: list[tuple[str, dict[str, Any]]] = []
    objects = MemoryObjects()

    def plan(event: dict[str, Any]) -> Any:
        called.append(("plan", event))
        return {**objects.plan(BUCKET, batches), **(plan_extra or {})}

    def builder(event: dict[str, Any]) -> Any:
        called.append(("build", event))
        return {**build_answer, "batchId": event["batchId"]}

    def finalize(event: dict[str, Any]) -> Any:
        called.append(("finalize", event))
        return {"status": "SUCCESS"}

    def mark_failed(event: dict[str, Any]) -> Any:
        called.append(("mark_failed", event))
        return {"status": "FAILED"}

    functions = {
        wf.PLAN_FUNCTION: plan,
        wf.BUILDER_FUNCTION: builder,
        wf.FINALIZE_FUNCTION: finalize,
        wf.MARK_FAILED_FUNCTION: mark_failed,
    }
    runner = LocalRunner(
        wf.workflow_definition(2),
        functions,
        sleep=lambda _: None,
        objects=objects,
        substitutions={wf.BUCKET_PLACEHOLDER: BUCKET},
    )
    return runner, called, objects


def steps(called: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [step for step, _ in called]


def test_a_task_result_over_the_state_quota_fails_the_execution_uncaught():
    # Plan's States.ALL catcher does not take the error.
    runner, called, _ = workflow_runner({"file": {}}, ["b1"], {"note": "x" * aws_limits.STATE_PAYLOAD_MAX_BYTES})
    with pytest.raises(StatesError) as failure:
        runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert failure.value.error == "States.DataLimitExceeded"
    assert "a task's result is" in failure.value.cause
    assert "over the state payload quota of 262144" in failure.value.cause
    assert steps(called) == ["plan"]


def test_a_batch_result_over_the_quota_fails_its_item_and_the_request():
    runner, called, _ = workflow_runner({"file": {"note": "x" * aws_limits.STATE_PAYLOAD_MAX_BYTES}}, ["b1"])
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert steps(called)[-1] == "mark_failed"
    error = called[-1][1]["error"]
    assert error["Error"] == "States.ExceedToleratedFailureThreshold"
    assert "States.DataLimitExceeded" in error["Cause"]


def test_a_map_item_over_the_item_quota_fails_the_request():
    runner, called, objects = workflow_runner({"file": {}}, ["b1", "x" * aws_limits.MAP_ITEM_MAX_BYTES])
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert steps(called) == ["plan", "build", "mark_failed"]
    assert "States.DataLimitExceeded" in called[-1][1]["error"]["Cause"]
    (failed,) = [child for child in objects.written_results() if child["Status"] == "FAILED"]
    assert failed["Error"] == "States.DataLimitExceeded"
    assert f"over the map item quota of {aws_limits.MAP_ITEM_MAX_BYTES}" in failed["Cause"]


def test_ten_thousand_batches_never_carry_the_plan_or_the_results_in_the_state():
    # Issue 13: the map collected its results inline ($.results) and Plan answered every batch id; 2,000 batches
    # of 64-character ids crossed the 256 KiB state quota. Now both live in S3 and Finalize gets their keys.
    batches = [f"{index:064d}" for index in range(10_000)]
    runner, called, objects = workflow_runner({"file": {"rows": 1, "name": "n" * 200}}, batches)
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert steps(called).count("build") == 10_000
    assert steps(called)[-1] == "finalize"
    finalize = called[-1][1]
    assert aws_limits.json_size(finalize) < 2048
    outputs = objects.outputs(finalize["mapResults"])
    assert sorted(output["batchId"] for output in outputs) == batches
    assert sum(len(body) for body in objects.bodies.values()) > 10 * aws_limits.STATE_PAYLOAD_MAX_BYTES


def test_the_result_writer_writes_step_functions_manifest_and_result_files():
    runner, called, objects = workflow_runner({"file": {"rows": 1}}, ["b1", "b2"])
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    details = called[-1][1]["mapResults"]
    assert details["Bucket"] == BUCKET
    assert details["Key"].startswith(f"{wf.MAP_RESULTS_PREFIX}/")
    assert details["Key"].endswith("/manifest.json")
    manifest = json.loads(objects.get(BUCKET, details["Key"]))
    assert manifest["DestinationBucket"] == BUCKET
    assert manifest["MapRunArn"].startswith("arn:aws:states:us-east-1:1:mapRun:m/BuildBatches:")
    assert manifest["ResultFiles"]["FAILED"] == manifest["ResultFiles"]["PENDING"] == []
    (listed,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert listed["Key"] == details["Key"].replace("manifest.json", "SUCCEEDED_0.json")
    assert listed["Size"] == len(objects.get(BUCKET, listed["Key"]))
    children = json.loads(objects.get(BUCKET, listed["Key"]))
    assert {child["Status"] for child in children} == {"SUCCEEDED"}
    assert sorted(json.loads(child["Input"])["batchId"] for child in children) == ["b1", "b2"]
    child_arn = "arn:aws:states:us-east-1:1:execution:m/BuildBatches:"
    assert all(child["ExecutionArn"].startswith(child_arn) for child in children)


def test_an_item_reader_object_that_is_not_a_json_array_fails_the_map():
    runner, called, _ = workflow_runner({"file": {}}, {"not": "an array"})
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert steps(called) == ["plan", "mark_failed"]
    assert called[-1][1]["error"]["Error"] == "States.ItemReaderFailed"
