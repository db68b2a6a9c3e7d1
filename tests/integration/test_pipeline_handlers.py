"""The pipeline's Lambda handlers on moto with the events of events/: SQS batches, Step Functions payloads."""

from __future__ import annotations

import json
import time

import pytest
from exhaust import aws
from exhaust.pipeline import entry
from exhaust.pipeline.errors import StaleExecution
from exhaust.requests.adapters import KeyVault
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.requests.store import RequestStore
from exhaust.settings import get_settings
from exhaust_devkit.local.functions import invoke

from tests.conftest import load_event

REQUEST_ID = "0C2E7A9F4B1D8E3A6C5F0B9D2E7A4C1F"


@pytest.fixture
def pipeline_env(aws_resources, monkeypatch):
    machine = aws.client("stepfunctions").create_state_machine(
        name="exhaust-workflow",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/exhaust-workflow",
    )
    monkeypatch.setenv("EXHAUST_STATE_MACHINE_ARN", machine["stateMachineArn"])
    # Completion events reach this queue through a rule on the default bus, as a partner's rule would.
    sqs = aws.client("sqs")
    tap_url = sqs.create_queue(QueueName="completion-events")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = aws.client("events")
    events.put_rule(Name="exhaust-completions", EventPattern=json.dumps({"source": ["exhaust.pipeline"]}))
    events.put_targets(Rule="exhaust-completions", Targets=[{"Id": "tap", "Arn": tap_arn}])
    get_settings.cache_clear()
    for getter in (entry.pipeline, entry.dispatcher, entry.sweeper):
        getter.cache_clear()
    yield {"stateMachineArn": machine["stateMachineArn"], "tapUrl": tap_url}
    for getter in (entry.pipeline, entry.dispatcher, entry.sweeper):
        getter.cache_clear()


def store_request(
    status: Status = Status.SUBMITTED, execution_arn: str | None = None, request_id: str = REQUEST_ID
) -> ExhaustRequest:
    now = int(time.time() * 1000)
    request = ExhaustRequest(
        requestId=request_id,
        channel="channel-a",
        tag="tag-1",
        dataset="progress-exhaust",
        datasetConfig={"batchId": "batch-1"},
        requestedBy="user-a",
        status=status,
        submittedAt=now,
        updatedAt=now - 3_600_000,
        executionArn=execution_arn,
        encryptedKey=KeyVault().encrypt("partner-key-1", request_id),
    )
    RequestStore().create(request)
    return request


def with_ids(name: str, **values: str):
    text = json.dumps(load_event(name))
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def test_dispatcher_starts_one_execution_for_a_duplicated_delivery_and_reports_the_bad_record(pipeline_env):
    store_request()
    event = with_ids("dispatcher/duplicate_delivery", REQUEST_ID=REQUEST_ID)
    answer = invoke("dispatcher", event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][2]["messageId"]}]}
    executions = aws.client("stepfunctions").list_executions(stateMachineArn=pipeline_env["stateMachineArn"])
    (execution,) = executions["executions"]
    request = RequestStore().get(REQUEST_ID)
    assert request is not None
    assert request.status == Status.PROCESSING
    assert request.executionArn == execution["executionArn"]
    assert execution["name"] == f"{REQUEST_ID}-{request.submittedAt}-0"
    started = aws.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"]) == {"requestId": REQUEST_ID, "attempt": 0}


def test_mark_failed_handler_fails_the_request_drops_the_key_and_publishes_the_event(pipeline_env):
    arn = "arn:aws:states:us-east-1:123456789012:execution:exhaust-workflow:x"
    store_request(Status.PROCESSING, arn)
    answer = invoke("mark_failed", with_ids("mark_failed/permanent_failure", REQUEST_ID=REQUEST_ID, EXECUTION_ARN=arn))
    assert answer == {"requestId": REQUEST_ID, "status": "FAILED"}
    failed = RequestStore().get(REQUEST_ID)
    assert failed is not None
    assert failed.statusMessage == "No data found"
    assert failed.attempts == 1
    assert failed.encryptedKey is None
    messages = aws.client("sqs").receive_message(QueueUrl=pipeline_env["tapUrl"], WaitTimeSeconds=1)["Messages"]
    event = json.loads(messages[0]["Body"])
    assert event["source"] == "exhaust.pipeline"
    assert event["detail"] == {
        "eventId": f"{REQUEST_ID}-{failed.submittedAt}-FAILED",
        "requestId": REQUEST_ID,
        "channel": "channel-a",
        "dataset": "progress-exhaust",
        "status": "FAILED",
        "statusMessage": "No data found",
    }


def test_mark_failed_retries_a_map_failure_and_a_stale_execution_changes_nothing(pipeline_env):
    arn = "arn:aws:states:us-east-1:123456789012:execution:exhaust-workflow:x"
    store_request(Status.PROCESSING, arn)
    answer = invoke("mark_failed", with_ids("mark_failed/map_failed", REQUEST_ID=REQUEST_ID, EXECUTION_ARN=arn))
    assert answer["status"] == "SUBMITTED"
    again = RequestStore().get(REQUEST_ID)
    assert again is not None
    assert again.attempts == 1
    assert again.encryptedKey is not None  # still needed by the next attempt

    other = "1F4C7A2E9D5B0F3A8C6E1D7B4A9F2C0E"
    store_request(Status.PROCESSING, f"{arn}-newer", request_id=other)
    with pytest.raises(StaleExecution):
        invoke("plan", with_ids("plan/plan", REQUEST_ID=other, EXECUTION_ARN=arn))
    with pytest.raises(StaleExecution):
        invoke("builder", with_ids("builder/build_batch", REQUEST_ID=other, EXECUTION_ARN=arn, BATCH_ID="B1"))
    answer = invoke("mark_failed", with_ids("mark_failed/map_failed", REQUEST_ID=other, EXECUTION_ARN=arn))
    assert answer["status"] is None
    untouched = RequestStore().get(other)
    assert untouched is not None
    assert untouched.status == Status.PROCESSING
    assert untouched.attempts == 0


def test_sweeper_handler_recovers_a_request_whose_execution_was_stopped(pipeline_env):
    store_request()
    invoke("dispatcher", with_ids("dispatcher/duplicate_delivery", REQUEST_ID=REQUEST_ID))
    claimed = RequestStore().get(REQUEST_ID)
    assert claimed is not None
    assert claimed.executionArn is not None
    # Old enough for the sweeper, and its execution ended without finalizing.
    RequestStore().replace(claimed.model_copy(update={"updatedAt": claimed.updatedAt - 600_000}), claimed.version)
    aws.client("stepfunctions").stop_execution(executionArn=claimed.executionArn)
    report = invoke("sweeper", {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    assert report == {"requeued": [], "recovered": [REQUEST_ID], "notified": []}
    recovered = RequestStore().get(REQUEST_ID)
    assert recovered is not None
    assert recovered.status == Status.SUBMITTED
    assert recovered.attempts == 0  # a stopped execution is not the request's failure: deferred (issue 12, item 7)
    assert recovered.deferrals == 1
