"""The workflow definition, the local runner's semantics, the dispatcher's rules and callback signing, with fakes."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from exhaust.pipeline import definition as wf
from exhaust.pipeline.dispatch import Dispatcher, Outcome
from exhaust.pipeline.errors import PermanentFailure, TransientFailure
from exhaust.pipeline.executions import ExecutionAlreadyExists, execution_arn_for
from exhaust.pipeline.notify import SIGNATURE_HEADER, Delivery, Notifier, sign, verify_signature
from exhaust.pipeline.steps import failure_message, retry_delay_seconds
from exhaust.pipeline.steps.build_batch import BuildBatchInput, BuildBatchOutput
from exhaust.pipeline.steps.finalize import FinalizeInput
from exhaust.pipeline.steps.mark_failed import MarkFailedInput
from exhaust.pipeline.steps.plan import PlanInput, PlanOutput
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.requests.store import ConcurrentUpdate
from exhaust.settings import RuntimeSettings
from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, StatesError
from pydantic import BaseModel

from tests.memory_objects import MemoryObjects

BUCKET = "exhaust-bucket"

# -- the definition -------------------------------------------------------------------------------------------


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = dict(definition["States"])
    found.update(definition["States"][wf.BUILD_BATCHES]["ItemProcessor"]["States"])
    return found


def test_definition_has_the_steps_in_order_with_a_distributed_map():
    definition = wf.workflow_definition(map_max_concurrency=7)
    assert definition["StartAt"] == wf.PLAN
    states = definition["States"]
    assert tuple(states) == wf.TOP_LEVEL_STATES
    assert states[wf.PLAN]["Next"] == wf.BUILD_BATCHES
    assert states[wf.BUILD_BATCHES]["Next"] == wf.FINALIZE
    build = states[wf.BUILD_BATCHES]
    assert build["Type"] == "Map"
    assert build["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert build["MaxConcurrency"] == 7
    assert tuple(build["ItemProcessor"]["States"]) == wf.ITEM_STATES
    assert wf.task_functions(definition) == {
        wf.PLAN: wf.PLAN_FUNCTION,
        wf.BUILD_BATCH: wf.BUILDER_FUNCTION,
        wf.FINALIZE: wf.FINALIZE_FUNCTION,
        wf.MARK_FAILED: wf.MARK_FAILED_FUNCTION,
    }


def test_each_task_sends_its_steps_input_model_and_keeps_its_output_model():
    states = all_states(wf.workflow_definition())
    inputs: dict[str, type[BaseModel]] = {wf.PLAN: PlanInput, wf.BUILD_BATCH: BuildBatchInput}
    inputs.update({wf.FINALIZE: FinalizeInput, wf.MARK_FAILED: MarkFailedInput})
    for name, model in inputs.items():
        payload = states[name]["Parameters"]["Payload"]
        assert "step" not in payload  # each step has a function of its own: nothing to switch on
        assert {key.removesuffix(".$") for key in payload} == set(model.model_fields), name
    outputs: dict[str, type[BaseModel]] = {wf.PLAN: PlanOutput, wf.BUILD_BATCH: BuildBatchOutput}
    for name, model in outputs.items():
        assert states[name]["ResultSelector"] == {f"{field}.$": f"$.Payload.{field}" for field in model.model_fields}
    with pytest.raises(ValueError, match="PlanInput"):
        wf._payload(PlanInput, requestId="$.requestId")  # executionArn left out: refused when the document is built


def test_every_top_level_state_but_mark_failed_is_caught_by_mark_failed():
    states = wf.workflow_definition()["States"]
    for name in (wf.PLAN, wf.BUILD_BATCHES, wf.FINALIZE):
        (catch,) = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        assert catch["Next"] == wf.MARK_FAILED
    assert "Catch" not in states[wf.MARK_FAILED]


def test_tasks_retry_transient_errors_three_attempts_in_all_with_backoff_and_never_permanent_ones():
    for name, state in all_states(wf.workflow_definition()).items():
        if state["Type"] != "Task":
            continue
        throttling, retry = state["Retry"]
        assert retry["MaxAttempts"] == 2, name  # plus the first try
        assert retry["BackoffRate"] > 1
        assert "TransientFailure" in retry["ErrorEquals"]
        assert "Lambda.TooManyRequestsException" in throttling["ErrorEquals"]
        for retrier in (throttling, retry):
            assert retrier["JitterStrategy"] == "FULL"
            assert wf.PERMANENT_ERROR not in retrier["ErrorEquals"]
            assert "States.ALL" not in retrier["ErrorEquals"]


def worst_case_wait(retrier: dict[str, Any]) -> float:
    """What Step Functions waits in all before giving up, without jitter (full jitter only shortens it)."""
    waits = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n, retrier.get("MaxDelaySeconds", float("inf")))
        for n in range(retrier["MaxAttempts"])
    ]
    return sum(waits)


def test_lambda_throttling_is_retried_for_minutes_with_capped_backoff():
    # Issue 13 item 4: two retries at 2 s and 4 s turned a throttling burst into a failed attempt.
    for name, state in all_states(wf.workflow_definition()).items():
        if state["Type"] != "Task":
            continue
        throttling = state["Retry"][0]
        assert throttling["ErrorEquals"] == ["Lambda.TooManyRequestsException"], name
        assert throttling["MaxAttempts"] >= 6
        assert throttling["MaxDelaySeconds"] <= 60  # no single wait longer than a minute
        assert worst_case_wait(throttling) >= 180, name  # a burst of 3 minutes is absorbed


def test_runner_caps_retry_waits_and_applies_full_jitter_when_given_one():
    steps = Steps(["b1"])
    throttled = StatesError("Lambda.TooManyRequestsException", "Rate exceeded")
    steps.failures["plan"] = [throttled] * wf.THROTTLE_RETRY_MAX_ATTEMPTS
    sleeps: list[float] = []
    steps.runner(sleeps=sleeps).run(ARN, {"requestId": "R", "attempt": 0})
    assert steps.steps()[:2] == ["plan"] * 2
    assert steps.steps()[-1] == "finalize"  # the last retry went through
    assert sleeps == [2, 4, 8, 16, 32, 60, 60, 60]
    halves: list[float] = []
    steps = Steps(["b1"])
    steps.failures["plan"] = [throttled] * 2
    runner = steps.runner(sleeps=halves)
    runner.jitter = lambda interval: interval / 2
    runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert halves == [1.0, 2.0]


# -- the local runner -------------------------------------------------------------------------------------------


class Steps:
    """Fake functions for the four placeholders, recording calls."""

    def __init__(self, batches: list[str]):
        self.batches = batches
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, list[Exception]] = {}
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()
        self.objects = MemoryObjects()

    def _maybe_fail(self, key: str) -> None:
        pending = self.failures.get(key)
        if pending:
            raise pending.pop(0)

    def plan(self, event: dict[str, Any]) -> Any:
        self.calls.append(("plan", event))
        self._maybe_fail("plan")
        return self.objects.plan(BUCKET, self.batches)

    def builder(self, event: dict[str, Any]) -> Any:
        self.calls.append(("build", event))
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(0.01)
            self._maybe_fail(event["batchId"])
            return {"batchId": event["batchId"], "file": {"rows": 3}}
        finally:
            with self.lock:
                self.running -= 1

    def finalize(self, event: dict[str, Any]) -> Any:
        self.calls.append(("finalize", event))
        return {"status": "SUCCESS"}

    def mark_failed(self, event: dict[str, Any]) -> Any:
        self.calls.append(("mark_failed", event))
        return {"status": "FAILED"}

    def runner(self, concurrency: int = 10, sleeps: list[float] | None = None) -> LocalRunner:
        return LocalRunner(
            wf.workflow_definition(concurrency),
            {
                wf.PLAN_FUNCTION: self.plan,
                wf.BUILDER_FUNCTION: self.builder,
                wf.FINALIZE_FUNCTION: self.finalize,
                wf.MARK_FAILED_FUNCTION: self.mark_failed,
            },
            sleep=(sleeps.append if sleeps is not None else lambda _: None),
            objects=self.objects,
            substitutions={wf.BUCKET_PLACEHOLDER: BUCKET},
        )

    def steps(self) -> list[str]:
        return [step for step, _ in self.calls]


ARN = "arn:aws:states:us-east-1:1:execution:m:R-1-0"


def test_runner_plans_builds_each_batch_and_finalizes_with_the_results():
    steps = Steps(["b1", "b2", "b3"])
    steps.runner(concurrency=2).run(ARN, {"requestId": "R", "attempt": 0})
    assert steps.steps()[0] == "plan"
    assert sorted(e["batchId"] for s, e in steps.calls if s == "build") == ["b1", "b2", "b3"]
    assert steps.most_running <= 2
    finalize = steps.calls[-1][1]
    assert steps.calls[-1][0] == "finalize"
    assert finalize["requestId"] == "R"
    assert finalize["executionArn"] == ARN
    assert steps.objects.outputs(finalize["mapResults"]) == [
        {"batchId": b, "file": {"rows": 3}} for b in ("b1", "b2", "b3")
    ]
    assert finalize["startedAt"].endswith("Z")


def test_runner_retries_transient_errors_with_backoff_then_gives_up_to_mark_failed():
    steps = Steps(["b1"])
    steps.failures["plan"] = [TransientFailure("slow down")] * 3
    sleeps: list[float] = []
    steps.runner(sleeps=sleeps).run(ARN, {"requestId": "R", "attempt": 0})
    assert steps.steps() == ["plan", "plan", "plan", "mark_failed"]
    assert sleeps == [wf.RETRY_INTERVAL_SECONDS, wf.RETRY_INTERVAL_SECONDS * wf.RETRY_BACKOFF_RATE]
    error = steps.calls[-1][1]["error"]
    assert error["Error"] == "TransientFailure"
    assert failure_message(error["Cause"]) == "slow down"


def test_runner_sends_a_permanent_plan_failure_to_mark_failed_without_retry():
    steps = Steps(["b1"])
    steps.failures["plan"] = [PermanentFailure("No data found")]
    steps.runner().run(ARN, {"requestId": "R", "attempt": 0})
    assert steps.steps() == ["plan", "mark_failed"]
    error = steps.calls[-1][1]["error"]
    assert error["Error"] == wf.PERMANENT_ERROR
    assert failure_message(error["Cause"]) == "No data found"


def test_a_permanent_batch_failure_lets_the_others_finish_and_reaches_finalize():
    steps = Steps(["b1", "b2"])
    steps.failures["b2"] = [PermanentFailure("No data found")]
    steps.runner().run(ARN, {"requestId": "R", "attempt": 0})
    assert steps.steps()[-1] == "finalize"
    results = steps.objects.outputs(steps.calls[-1][1]["mapResults"])
    assert results[0] == {"batchId": "b1", "file": {"rows": 3}}
    assert results[1]["batchId"] == "b2"
    assert failure_message(results[1]["failure"]) == "No data found"


def test_an_unexpected_batch_error_fails_the_map_into_mark_failed():
    steps = Steps(["b1", "b2"])
    steps.failures["b1"] = [RuntimeError("boom")]
    steps.runner().run(ARN, {"requestId": "R", "attempt": 0})
    assert steps.steps()[-1] == "mark_failed"
    assert steps.calls[-1][1]["error"]["Error"] == "States.ExceedToleratedFailureThreshold"


def test_a_failing_mark_failed_fails_the_execution():
    steps = Steps(["b1"])
    steps.failures["plan"] = [PermanentFailure("x")]

    def broken(event):
        raise RuntimeError("the table is gone")

    runner = steps.runner()
    runner.functions = {**runner.functions, wf.MARK_FAILED_FUNCTION: broken}
    with pytest.raises(StatesError) as failure:
        runner.run(ARN, {"requestId": "R", "attempt": 0})
    assert failure.value.error == "RuntimeError"


def test_local_workflow_refuses_a_second_execution_of_the_same_name():
    steps = Steps([])
    workflow = LocalWorkflow(steps.runner(), synchronous=True)
    arn = workflow.start("R-1-0", {"requestId": "R", "attempt": 0})
    assert workflow.describe(arn) == "SUCCEEDED"
    with pytest.raises(ExecutionAlreadyExists):
        workflow.start("R-1-0", {"requestId": "R", "attempt": 0})
    assert workflow.describe(execution_arn_for(workflow.state_machine_arn, "other")) is None


# -- the dispatcher -----------------------------------------------------------------------------------------------


class FakeStore:
    def __init__(self, *requests: ExhaustRequest):
        self.items = {r.requestId: r for r in requests}
        self.lose_next_write = False

    def get(self, request_id: str) -> ExhaustRequest | None:
        return self.items.get(request_id)

    def replace(self, request: ExhaustRequest, expected_version: int) -> ExhaustRequest:
        current = self.items[request.requestId]
        if self.lose_next_write or current.version != expected_version:
            self.lose_next_write = False
            raise ConcurrentUpdate(request.requestId)
        stored = request.model_copy(update={"version": expected_version + 1})
        self.items[request.requestId] = stored
        return stored

    def count_in_status(self, status: Status, channel: str | None = None) -> int:
        return sum(1 for r in self.items.values() if r.status == status and channel in (None, r.channel))


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int]] = []

    def send(self, request_id: str, attempt: int = 0, delay_seconds: int = 0) -> None:
        self.sent.append((request_id, attempt, delay_seconds))


class FakeWorkflow:
    state_machine_arn = "arn:aws:states:us-east-1:1:stateMachine:exhaust"

    def __init__(self, fail_with: Exception | None = None):
        self.started: dict[str, dict[str, Any]] = {}
        self.fail_with = fail_with

    def execution_arn(self, name: str) -> str:
        return execution_arn_for(self.state_machine_arn, name)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.fail_with:
            raise self.fail_with
        if name in self.started:
            raise ExecutionAlreadyExists(name)
        self.started[name] = payload
        return self.execution_arn(name)

    def describe(self, execution_arn: str) -> str | None:
        return None

    def stop(self, execution_arn: str, cause: str) -> None:
        pass


def request(
    request_id: str, channel: str = "c1", status: Status = Status.SUBMITTED, attempts: int = 0
) -> ExhaustRequest:
    return ExhaustRequest(
        requestId=request_id,
        channel=channel,
        tag="t",
        dataset="progress-exhaust",
        datasetConfig={"batchId": "b"},
        requestedBy="u",
        status=status,
        attempts=attempts,
        submittedAt=1700000000000,
        updatedAt=1700000000000,
    )


def dispatcher(
    store: FakeStore, workflow: FakeWorkflow | None = None, running: int = 2
) -> tuple[Dispatcher, FakeQueue, FakeWorkflow]:
    """A dispatcher on the fakes (mypy checks they satisfy its ports), and its queue and workflow."""
    queue, workflow = FakeQueue(), workflow or FakeWorkflow()
    settings = RuntimeSettings(max_running_per_channel=running)
    return Dispatcher(store=store, queue=queue, workflow=workflow, settings=settings), queue, workflow


def test_dispatch_claims_the_request_and_starts_one_execution_named_after_the_attempt():
    store = FakeStore(request("R1", attempts=1))
    made, queue, workflow = dispatcher(store)
    assert made.dispatch_message(json.dumps({"requestId": "R1", "attempt": 1})) == Outcome.STARTED
    claimed = store.items["R1"]
    assert claimed.status == Status.PROCESSING
    assert claimed.executionArn == "arn:aws:states:us-east-1:1:execution:exhaust:R1-1700000000000-1"
    assert workflow.started == {"R1-1700000000000-1": {"requestId": "R1", "attempt": 1}}
    assert queue.sent == []


@pytest.mark.parametrize("status", [Status.PROCESSING, Status.SUCCESS, Status.FAILED])
def test_dispatch_ignores_requests_that_are_not_submitted(status):
    store = FakeStore(request("R1", status=status))
    made, _, workflow = dispatcher(store)
    assert made.dispatch("R1") == Outcome.IGNORED
    assert made.dispatch("unknown") == Outcome.IGNORED
    assert workflow.started == {}


def test_a_racing_duplicate_delivery_loses_the_claim_and_starts_nothing():
    store = FakeStore(request("R1"))
    store.lose_next_write = True
    made, _, workflow = dispatcher(store)
    assert made.dispatch("R1") == Outcome.ALREADY_STARTED
    assert workflow.started == {}


def test_throttled_channel_leaves_the_request_submitted_and_queues_it_with_a_delay():
    store = FakeStore(
        request("R1", status=Status.PROCESSING),
        request("R2", status=Status.PROCESSING),
        request("R3"),
        request("R4", channel="c2"),
    )
    made, queue, _ = dispatcher(store, running=2)
    assert made.dispatch("R3") == Outcome.THROTTLED
    assert store.items["R3"].status == Status.SUBMITTED
    assert queue.sent == [("R3", 0, made.throttle_delay_seconds)]
    assert made.throttle_delay_seconds > 0
    assert made.dispatch("R4") == Outcome.STARTED  # another channel's requests are not held back


def test_a_failed_start_undoes_the_claim_and_raises_for_a_redelivery():
    store = FakeStore(request("R1"))
    made, _, _ = dispatcher(store, workflow=FakeWorkflow(fail_with=RuntimeError("throttled")))
    with pytest.raises(RuntimeError):
        made.dispatch("R1")
    assert store.items["R1"].status == Status.SUBMITTED
    assert store.items["R1"].executionArn is None


def test_bad_messages_raise_so_they_are_reported_as_failures():
    made, _, _ = dispatcher(FakeStore())
    with pytest.raises(ValueError, match="without a requestId"):
        made.dispatch_message(json.dumps({"nothing": 1}))


def test_request_retry_backoff_grows_and_stays_within_sqs_limits():
    assert [retry_delay_seconds(n) for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_delay_seconds(20) == 900


# -- callbacks ------------------------------------------------------------------------------------------------------


def test_signature_verifies_only_with_the_secret_the_body_and_a_recent_time():
    body = b'{"requestId":"R","status":"SUCCESS"}'
    header = sign("secret", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature("secret", header, body, now=1_700_000_010)
    assert not verify_signature("other", header, body, now=1_700_000_010)
    assert not verify_signature("secret", header, body + b" ", now=1_700_000_010)
    assert not verify_signature("secret", header, body, now=1_700_001_000)
    assert not verify_signature("secret", "garbage", body, now=1_700_000_010)


def test_callback_is_tried_again_after_a_second_once_then_left_to_the_outbox():
    answers = [503, 200]
    posted: list[dict[str, str]] = []
    sleeps: list[float] = []

    def post(url, body, headers):
        posted.append(headers)
        return answers.pop(0)

    notifier = Notifier(settings=RuntimeSettings(callback_secret="s"), post=post, sleep=sleeps.append)
    assert notifier.call_back("https://x.example/hook", {"requestId": "R", "status": "SUCCESS"})
    assert len(posted) == 2
    assert sleeps == [1.0]
    assert all(SIGNATURE_HEADER in headers for headers in posted)

    answers.extend([500, 500, 200])
    assert notifier.deliver_callback("https://x.example/hook", {"requestId": "R"}) == Delivery.FAILED
    assert answers == [200]  # two tries at most: a receiver down longer is tried again by the outbox


def test_callback_refused_by_the_receiver_is_not_retried():
    calls: list[str] = []

    def refuse(url: str, body: bytes, headers: dict[str, str]) -> int:
        calls.append(url)
        return 400

    notifier = Notifier(settings=RuntimeSettings(), post=refuse, sleep=lambda _: None)
    assert not notifier.call_back("https://x.example/hook", {"requestId": "R"})
    assert len(calls) == 1


def test_callbacks_only_go_over_https():
    notifier = Notifier(settings=RuntimeSettings(), sleep=lambda _: None)
    assert not notifier.call_back("http://x.example/hook", {"requestId": "R"})


def test_builder_errors_are_classified_for_the_workflow_retries():
    from botocore.exceptions import ClientError, EndpointConnectionError
    from exhaust.builders.errors import NoDataFound
    from exhaust.lake.extracts import LakeNotIndexed
    from exhaust.pipeline.steps import classify

    permanent = classify(NoDataFound())
    assert isinstance(permanent, PermanentFailure)
    assert str(permanent) == "No data found"
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Decrypt")
    assert isinstance(classify(throttled), TransientFailure)
    assert isinstance(classify(EndpointConnectionError(endpoint_url="https://s3")), TransientFailure)
    assert isinstance(classify(OSError("AWS Error SLOW_DOWN during GetObject")), TransientFailure)
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Decrypt")
    assert classify(denied) is denied  # a bug or a missing grant: the request-level retry, then FAILED
    missing = FileNotFoundError("lake/batches")
    assert classify(missing) is missing
    # Loaded but not re-indexed yet: the scheduled indexer fixes it within minutes, so the request is deferred.
    assert isinstance(classify(LakeNotIndexed("is missing")), TransientFailure)
