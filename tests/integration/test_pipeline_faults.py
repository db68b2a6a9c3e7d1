"""Fault injection (issue 12, items 7 and 8; issue 13, item 4): infrastructure failures through our own adapters on
moto and the local runner. Each request ends SUCCESS without using an attempt (or FAILED with a message a partner
understands), nothing is duplicated and every completion event is delivered, with an id to deduplicate on.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from exhaust import aws
from exhaust.pipeline import definition as wf
from exhaust.pipeline.dispatch import Dispatcher, Outcome
from exhaust.pipeline.notify import CALLBACK_RETRY_INTERVAL_SECONDS, EVENT_ID_HEADER
from exhaust.pipeline.sweeper import Sweeper
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.requests.store import RequestStore
from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, StatesError, step_functions

from tests.integration.faults import AwsFaults
from tests.integration.test_pipeline import (  # noqa: F401 (fixture)
    CALLBACK_SECRET,
    HangingWorkflow,
    Harness,
    lake,
    object_keys,
)


class Events:
    """Completion events as a partner's EventBridge rule receives them (a rule on the default bus -> a queue)."""

    def __init__(self) -> None:
        sqs = aws.client("sqs")
        self.url = sqs.create_queue(QueueName="completion-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = aws.client("events")
        events.put_rule(Name="exhaust-completions", EventPattern=json.dumps({"source": ["exhaust.pipeline"]}))
        events.put_targets(Rule="exhaust-completions", Targets=[{"Id": "tap", "Arn": arn}])
        self.received: list[dict[str, Any]] = []

    def details(self) -> list[dict[str, Any]]:
        """Every event's detail received so far."""
        while True:
            answer = aws.client("sqs").receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return list(self.received)
            for message in messages:
                self.received.append(json.loads(message["Body"])["detail"])
                aws.client("sqs").delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def harness(aws_resources, lake) -> Harness:  # noqa: F811
    settings = aws_resources.model_copy(update={"callback_secret": CALLBACK_SECRET, "max_running_per_channel": 2})
    return Harness(settings=settings, lake=lake)


@pytest.fixture
def events(aws_resources) -> Events:
    return Events()


@pytest.fixture
def faults() -> AwsFaults:
    return AwsFaults()


def assert_succeeded_once(harness: Harness, events: Events, request_id: str, batches: list[str]) -> ExhaustRequest:
    """SUCCESS, no attempt used, one file per batch, no stray object, and exactly one completion event."""
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS, done.statusMessage
    assert done.statusMessage is None
    assert done.attempts == 0
    assert sorted(f.batchId for f in done.files) == sorted(batches)
    prefix = f"requests/{done.channel}/{request_id}/"
    mine = [key for key in object_keys(harness.settings) if key.startswith(prefix)]
    manifests = [f"{prefix}manifest.json", f"{prefix}manifest/files-00000.json"]
    assert mine == sorted([*(f.key for f in done.files), *manifests])
    delivered = [d for d in events.details() if d["requestId"] == request_id]
    assert [d["status"] for d in delivered] == ["SUCCESS"]
    assert delivered[0]["eventId"] == f"{request_id}-{done.submittedAt}-SUCCESS"
    assert done.outbox == []
    return done


def test_two_dispatchers_racing_on_one_message_start_one_execution(harness, events):
    batches = harness.lake["mainBatches"][:2]
    request_id = harness.submit(batchFilter=batches)
    (message,) = harness.messages()
    both_read = threading.Barrier(2)

    class RacingStore(RequestStore):
        def get(self, request_id: str) -> ExhaustRequest | None:
            found = super().get(request_id)
            if found is not None and found.status == Status.SUBMITTED:
                both_read.wait(timeout=10)  # both dispatchers saw SUBMITTED before either claimed
            return found

    dispatchers = [
        Dispatcher(store=RacingStore(), workflow=harness.workflow, settings=harness.settings) for _ in range(2)
    ]
    outcomes: list[Outcome] = []
    threads = [
        threading.Thread(target=lambda d=d: outcomes.append(d.dispatch_message(message["Body"]))) for d in dispatchers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == sorted([Outcome.STARTED, Outcome.ALREADY_STARTED])
    assert len(harness.workflow.statuses) == 1
    assert harness.builder.calls == {batch: 1 for batch in batches}
    assert_succeeded_once(harness, events, request_id, batches)


@pytest.mark.parametrize("failure", ["the builder Lambda", "the builder's read of the lake"])
def test_a_builder_failing_once_is_retried_inside_the_execution(harness, events, failure):
    batches = harness.lake["mainBatches"][:2]
    if failure == "the builder Lambda":
        functions = step_functions(harness.pipeline)
        failed: list[str] = []

        def builder_failing_once(event):
            if not failed:
                failed.append(event["batchId"])
                raise StatesError("Lambda.ServiceException", "the function's container crashed")
            return functions[wf.BUILDER_FUNCTION](event)

        runner = harness.workflow.runner
        runner.functions = {**functions, wf.BUILDER_FUNCTION: builder_failing_once}
    else:
        harness.builder.fail_first[batches[0]] = ConnectionResetError("connection reset by peer")
    request_id = harness.submit(batchFilter=batches)
    assert harness.drain() == [Outcome.STARTED]
    assert_succeeded_once(harness, events, request_id, batches)
    assert len(harness.workflow.statuses) == 1


def test_s3_slowdown_for_a_while_defers_the_request_without_using_an_attempt(harness, events, faults):
    batches = harness.lake["mainBatches"][:1]
    # One failure more than an execution's tries of the batch: the batch ends deferred (not failed), and the next
    # execution's first try fails once more.
    slowdown = faults.fail("s3", "PutObject", "SlowDown", times=wf.RETRY_MAX_ATTEMPTS + 2)
    request_id = harness.submit(batchFilter=batches)
    assert harness.drain() == [Outcome.STARTED, Outcome.STARTED]
    assert slowdown.hits == wf.RETRY_MAX_ATTEMPTS + 2
    done = assert_succeeded_once(harness, events, request_id, batches)
    assert done.deferrals == 1
    assert done.transientSince is None


def test_an_outage_longer_than_the_limit_fails_the_request_with_a_clear_message(harness, events, faults):
    batch = harness.lake["mainBatches"][0]
    faults.fail("s3", "PutObject", "SlowDown", times=None)
    offset = {"ms": 0}
    harness.pipeline.clock = lambda: int(time.time() * 1000) + offset["ms"]
    request_id = harness.submit(batchId=batch)
    assert harness.drain(rounds=1) == [Outcome.STARTED]
    waiting = harness.request(request_id)
    assert waiting.status == Status.SUBMITTED
    assert waiting.attempts == 0
    assert waiting.statusMessage is not None
    assert "temporary AWS failure" in waiting.statusMessage
    assert "resumes automatically" in waiting.statusMessage

    offset["ms"] = (harness.pipeline.transient_outage_limit_seconds + 60) * 1000
    assert harness.drain(rounds=1) == [Outcome.STARTED]
    failed = harness.request(request_id)
    assert failed.status == Status.FAILED
    assert failed.attempts == 0
    assert failed.statusMessage is not None
    assert failed.statusMessage.startswith(
        "The export could not run: the AWS services it depends on kept failing for more than 60 minutes"
    )
    assert "SlowDown" in failed.statusMessage
    assert failed.statusMessage.endswith("Nothing is wrong with the request: submit it again.")
    assert "TransientFailure" not in failed.statusMessage
    assert failed.encryptedKey is None
    assert [d["status"] for d in events.details()] == ["FAILED"]
    assert harness.messages() == []


def test_a_dynamodb_write_failing_after_the_upload_rebuilds_the_batch_once_more(harness, events, faults):
    batches = harness.lake["mainBatches"][:2]
    real_builder = harness.pipeline.build_file
    armed: list[bool] = []

    def builder_then_dynamodb_fails(*args, **kwargs):
        built = real_builder(*args, **kwargs)
        if not armed:  # the zip is uploaded; the write that records it fails
            armed.append(True)
            faults.fail("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", status=400, times=1)
        return built

    harness.pipeline.build_file = builder_then_dynamodb_fails
    request_id = harness.submit(batchFilter=batches)
    assert harness.drain() == [Outcome.STARTED]
    done = assert_succeeded_once(harness, events, request_id, batches)
    assert done.deferrals == 0
    assert sorted(harness.builder.calls.values()) == [1, 2]  # the batch whose record failed was rebuilt once


def test_a_queue_send_failing_at_submit_is_recovered_by_the_sweeper(harness, events, faults):
    batch = harness.lake["mainBatches"][0]
    faults.fail("sqs", "SendMessage", "AWS.SimpleQueueService.ServiceUnavailable", times=1)
    with pytest.raises(Exception, match="ServiceUnavailable"):
        harness.submit(batchId=batch)  # the request is stored; its message is not
    (lost,) = harness.store.in_status(Status.SUBMITTED)
    assert harness.drain() == []
    sweeper = Sweeper(pipeline=harness.pipeline, workflow=harness.workflow)
    harness.settings.sweep_submitted_after_seconds = 0
    time.sleep(0.01)
    assert sweeper.sweep().requeued == [lost.requestId]
    assert harness.drain() == [Outcome.STARTED]
    assert_succeeded_once(harness, events, lost.requestId, [batch])


def test_a_queue_send_failing_at_requeue_retries_the_step_instead_of_losing_the_request(harness, events, faults):
    batch = harness.lake["mainBatches"][0]
    runner = harness.workflow.runner
    functions = dict(runner.functions)
    calls: list[int] = []

    def builder_throttled_out_of_the_execution(event):
        # The batch's transient failure outlasts the execution's retries: Finalize defers the request, and its
        # first try to queue the request again fails.
        if len(calls) < wf.RETRY_MAX_ATTEMPTS + 1:
            calls.append(1)
            if len(calls) == wf.RETRY_MAX_ATTEMPTS + 1:
                faults.fail("sqs", "SendMessage", "AWS.SimpleQueueService.ServiceUnavailable", times=1)
            raise StatesError("TransientFailure", json.dumps({"errorMessage": "S3 SlowDown"}))
        return functions[wf.BUILDER_FUNCTION](event)

    runner.functions = {**functions, wf.BUILDER_FUNCTION: builder_throttled_out_of_the_execution}
    request_id = harness.submit(batchId=batch)
    assert harness.drain() == [Outcome.STARTED, Outcome.STARTED]
    done = assert_succeeded_once(harness, events, request_id, [batch])
    assert done.deferrals == 1


def test_a_crash_between_claim_and_start_execution_recovers_from_the_held_message(harness, events):
    batch = harness.lake["mainBatches"][0]
    request_id = harness.submit(batchId=batch)

    class Crash(BaseException):
        """The dispatcher's process died here: nothing after it ran."""

    class CrashingWorkflow(LocalWorkflow):
        def start(self, name, payload):
            raise Crash()

    dispatcher = harness.dispatcher
    dispatcher.workflow = CrashingWorkflow(harness.workflow.runner)
    # In AWS the message is held CLAIM_HOLD_SECONDS; here it comes back at once.
    dispatcher.claim_hold_seconds = 0
    (message,) = harness.messages()
    with pytest.raises(Crash):
        dispatcher.dispatch_message(message["Body"], hold=lambda s: harness.queue.hold(message["ReceiptHandle"], s))
    assert harness.request(request_id).status == Status.PROCESSING  # claimed, never started

    dispatcher.workflow = harness.workflow
    assert harness.drain() == [Outcome.RESUMED]
    assert_succeeded_once(harness, events, request_id, [batch])
    assert len(harness.workflow.statuses) == 1


def test_eventbridge_down_at_finalize_delivers_the_event_later_exactly_with_the_same_id(harness, events, faults):
    batch = harness.lake["mainBatches"][0]
    down = faults.fail("events", "PutEvents", "InternalFailure", times=None, status=500)
    request_id = harness.submit(batchId=batch, callback_url="https://partner.example/hook")
    assert harness.drain() == [Outcome.STARTED]
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS
    assert done.outbox == ["event"]  # the callback went out; the event waits
    assert events.details() == []

    sweeper = Sweeper(pipeline=harness.pipeline, workflow=harness.workflow)
    assert sweeper.sweep().notified == []  # still down: kept
    faults.clear(down)
    assert sweeper.sweep().notified == [request_id]
    assert_succeeded_once(harness, events, request_id, [batch])
    assert sweeper.sweep().notified == []
    assert len([d for d in events.details() if d["requestId"] == request_id]) == 1
    ((_, body, headers),) = harness.callbacks
    assert headers[EVENT_ID_HEADER] == json.loads(body)["eventId"] == f"{request_id}-{done.submittedAt}-SUCCESS"


def test_a_failed_callback_is_sent_again_by_the_sweeper_with_the_same_event_id(harness, events):
    batch = harness.lake["mainBatches"][0]
    answers = iter([503] * 2 + [200])
    sent: list[dict[str, str]] = []

    def receiver(url, body, headers):
        sent.append(headers)
        return next(answers)

    harness.notifier.post = receiver
    request_id = harness.submit(batchId=batch, callback_url="https://partner.example/hook")
    harness.drain()
    assert harness.request(request_id).outbox == ["callback"]
    sweeper = Sweeper(pipeline=harness.pipeline, workflow=harness.workflow)
    later = harness.pipeline.clock() + CALLBACK_RETRY_INTERVAL_SECONDS * 1000
    harness.pipeline.clock = lambda: later
    assert sweeper.sweep().notified == []  # queued again; its deliverer settles it
    assert harness.deliver_callbacks() == 1
    assert harness.request(request_id).outbox == []
    assert len(sent) == 3
    assert len({headers[EVENT_ID_HEADER] for headers in sent}) == 1
    assert_succeeded_once(harness, events, request_id, [batch])


def test_requests_still_succeed_under_lambda_throttling(harness, events):
    """A throttling stub: every invocation of the builder image (Plan, BuildBatch) is refused 5 times before Lambda
    takes it."""
    functions = step_functions(harness.pipeline)
    refused: dict[str, int] = {}
    lock = threading.Lock()

    def throttled(placeholder):
        def invoke(event):
            key = f"{event['requestId']}/{event.get('batchId', 'plan')}"
            with lock:
                refused[key] = refused.get(key, 0) + 1
                throttle = refused[key] <= 5
            if throttle:
                raise StatesError("Lambda.TooManyRequestsException", "Rate Exceeded.")
            return functions[placeholder](event)

        return invoke

    image_functions = {name: throttled(name) for name in (wf.PLAN_FUNCTION, wf.BUILDER_FUNCTION)}
    harness.workflow = LocalWorkflow(
        LocalRunner(wf.workflow_definition(), {**functions, **image_functions}, retry_interval_scale=0),
        synchronous=True,
    )
    harness.dispatcher.workflow = harness.workflow
    batches = harness.lake["mainBatches"][:2]
    request_ids = [harness.submit(batchFilter=batches, channel=harness.lake["samples"]["channel"]) for _ in range(2)]
    assert harness.drain() == [Outcome.STARTED] * 2
    for request_id in request_ids:
        done = assert_succeeded_once(harness, events, request_id, batches)
        assert done.deferrals == 0  # absorbed inside the execution
    assert len(harness.workflow.statuses) == 2


def test_the_global_cap_holds_requests_of_every_channel_back(harness):
    harness.settings.max_running_total = 1

    harness.dispatcher.workflow = HangingWorkflow(harness.workflow.runner)
    batch = harness.lake["mainBatches"][0]
    first = harness.submit(batchId=batch)
    second = harness.submit(batchId=batch, channel="another-channel")
    outcomes = [harness.dispatcher.dispatch_message(m["Body"]) for m in harness.messages()]
    assert outcomes == [Outcome.STARTED, Outcome.THROTTLED]
    assert harness.request(first).status == Status.PROCESSING
    assert harness.request(second).status == Status.SUBMITTED
    assert [json.loads(m["Body"])["requestId"] for m in harness.messages()] == [second]


def test_the_local_worker_killed_mid_request_is_resumed_by_the_next_one(harness, events):
    from exhaust_devkit.local.worker import LocalWorker

    batches = harness.lake["mainBatches"][:2]
    building = threading.Event()
    release = threading.Event()
    real_builder = harness.pipeline.build_file

    def slow_builder(*args, **kwargs):
        building.set()
        release.wait(timeout=30)
        return real_builder(*args, **kwargs)

    harness.pipeline.build_file = slow_builder
    first_workflow = LocalWorkflow(LocalRunner(wf.workflow_definition(1), step_functions(harness.pipeline)))
    first = LocalWorker(harness.settings, workflow=first_workflow, sweep_interval=3600)
    request_id = harness.submit(batchFilter=batches)
    thread = threading.Thread(target=first.run, daemon=True)
    thread.start()
    assert building.wait(timeout=30)
    first.stopping.set()  # the worker goes away mid-request
    thread.join(timeout=10)
    release.set()
    arn = harness.request(request_id).executionArn
    deadline = time.monotonic() + 30
    while first_workflow.describe(arn) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.request(request_id).status == Status.PROCESSING

    second = LocalWorker(harness.settings, workflow=harness.new_workflow(), sweep_interval=0.5)
    second.sweeper.processing_grace_ms = 0
    thread = threading.Thread(target=second.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while harness.request(request_id).status != Status.SUCCESS and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        second.stopping.set()
        thread.join(timeout=10)
    done = assert_succeeded_once(harness, events, request_id, batches)
    assert done.deferrals == 1
    assert sorted(harness.builder.calls) == sorted(batches)


def test_a_queue_send_failing_at_an_api_submit_is_queued_again_at_the_next_sweep(harness, faults, tokens):
    from tests.integration.test_requests_api import submit

    faults.fail("sqs", "SendMessage", "AWS.SimpleQueueService.ServiceUnavailable", times=1)
    status, _, body = submit(tokens)
    assert status == 200, body
    request_id = body["result"]["requestId"]
    assert harness.messages() == []
    unqueued = harness.request(request_id)
    assert unqueued.status == Status.SUBMITTED
    assert unqueued.queueSendFailed
    queued_id = harness.submit(batchId=harness.lake["mainBatches"][0])  # queued fine, waiting for a dispatcher
    harness.messages()  # its message is in flight: a minute later it is not lost, only not dispatched yet

    sweeper = Sweeper(pipeline=harness.pipeline, workflow=harness.workflow)
    started = harness.pipeline.clock()
    harness.pipeline.clock = lambda: started + (harness.settings.sweep_unqueued_after_seconds + 1) * 1000
    assert sweeper.sweep().requeued == [request_id]
    assert [json.loads(m["Body"])["requestId"] for m in harness.messages()] == [request_id]
    assert not harness.request(request_id).queueSendFailed
    assert harness.request(queued_id).status == Status.SUBMITTED


def test_a_lake_loaded_but_not_yet_indexed_defers_progress_requests_until_the_indexer_runs(
    harness: Harness, events: Events
) -> None:
    """Before: LakeNotIndexed used the request's attempts within minutes and failed it, while the scheduled
    indexer makes the lake fresh within 15 minutes of a load."""
    import pyarrow as pa
    from exhaust.lake import indexer
    from exhaust.lake.store import Lake

    root = harness.lake["root"]
    loaded = Lake.open(root)
    users = loaded.read("users")
    names = users["name"].to_pylist()
    names[0] = f"{names[0]} (corrected)"
    loaded.write("users", users.set_column(users.schema.get_field_index("name"), "name", pa.array(names)))
    try:
        batches = harness.lake["mainBatches"][:1]
        request_id = harness.submit(batchFilter=batches)
        assert harness.drain(rounds=1) == [Outcome.STARTED]
        waiting = harness.request(request_id)
        assert (waiting.status, waiting.attempts) == (Status.SUBMITTED, 0)
        assert waiting.deferrals >= 1
        assert waiting.statusMessage is not None
        assert "resumes automatically" in waiting.statusMessage
    finally:
        assert indexer.run(root)["reindexed"] is True  # the scheduled look after the load
    assert harness.drain() == [Outcome.STARTED]
    assert_succeeded_once(harness, events, request_id, batches)


class OutgrowingBuilder:
    """The counting builder, but the first build of `batch` outgrows the builder: it runs past the runner's timeout
    (held until `release`), or runs out of memory."""

    def __init__(self, builder: Any, batch: str, kind: str, times: int = 1):
        self.builder, self.batch, self.kind, self.left = builder, batch, kind, times
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, build, bucket, key_prefix, *, compresslevel):
        if build.batch_id == self.batch and self.left > 0:
            self.left -= 1
            if self.kind == "memory":
                raise MemoryError()
            self.release.wait(timeout=30)
            try:
                return self.builder(build, bucket, key_prefix, compresslevel=compresslevel)
            finally:
                self.finished.set()
        return self.builder(build, bucket, key_prefix, compresslevel=compresslevel)


@pytest.fixture
def limited(aws_resources, lake) -> Harness:  # noqa: F811
    """A harness whose builder is deployed with a 1-second timeout and 1,769 MB, as the runner enforces them."""
    settings = aws_resources.model_copy(
        update={"callback_secret": CALLBACK_SECRET, "builder_timeout_seconds": 1, "builder_memory_mb": 1769}
    )
    harness = Harness(settings=settings, lake=lake)
    harness.workflow.runner.timeouts = {wf.BUILDER_FUNCTION: float(settings.builder_timeout_seconds)}
    return harness


def test_the_local_runner_reports_a_function_out_of_time_or_memory_as_lambda_unknown():
    """As Step Functions reports Lambda's timeouts and out-of-memory ends (FUNCTION_LIMIT_ERROR); any other error
    of the function keeps its own name."""
    definition = {"StartAt": "Call", "States": {"Call": {**wf._invoke(wf.BUILDER_FUNCTION, {}), "End": True}}}
    release = threading.Event()

    def run(function) -> StatesError:
        runner = LocalRunner(
            definition, {wf.BUILDER_FUNCTION: function}, substitutions={}, timeouts={wf.BUILDER_FUNCTION: 0.2}
        )
        with pytest.raises(StatesError) as failed:
            runner.run("arn:aws:states:us-east-1:0:execution:m:e", {})
        return failed.value

    def out_of_memory(_):
        raise MemoryError()

    def crashing(_):
        raise ValueError("boom")

    try:
        assert run(lambda _: release.wait(timeout=30)).error == "Lambda.Unknown"
    finally:
        release.set()
    assert run(out_of_memory).error == "Lambda.Unknown"
    assert run(crashing).error == "ValueError"


@pytest.mark.parametrize("kind", ["timeout", "memory"])
def test_a_batch_that_outgrows_the_builder_fails_alone_and_the_request_names_the_builders_limits(limited, events, kind):
    harness = limited
    good, slow = harness.lake["mainBatches"][:2]
    outgrowing = OutgrowingBuilder(harness.builder, slow, kind)
    harness.pipeline.build_file = outgrowing
    request_id = harness.submit(batchFilter=[good, slow])

    assert harness.drain(rounds=1) == [Outcome.STARTED]
    waiting = harness.request(request_id)
    # The other batch finished and is kept; the attempt is counted and the partner is told why.
    assert waiting.status == Status.SUBMITTED
    assert waiting.attempts == 1
    assert waiting.progress.batchesDone == 1
    assert harness.builder.calls == {good: 1}
    assert waiting.statusMessage == (
        f"building batch {slow} ran out of the builder's time (1 s) or memory (1769 MB); it is tried again "
        "(attempt 2 of 3)"
    )
    assert events.details() == []

    outgrowing.release.set()
    if kind == "timeout":  # the late build ran on, as no thread can be stopped: it changed nothing
        assert outgrowing.finished.wait(timeout=30)
        assert harness.request(request_id).progress.batchesDone == 1
    assert harness.drain() == [Outcome.STARTED]
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS, done.statusMessage
    assert done.statusMessage is None
    assert done.attempts == 1
    assert sorted(f.batchId for f in done.files) == sorted([good, slow])
    assert [d["status"] for d in events.details()] == ["SUCCESS"]


def test_a_batch_that_always_outgrows_the_builder_fails_the_request_after_its_attempts(limited, events):
    harness = limited
    good, slow = harness.lake["mainBatches"][:2]
    harness.pipeline.build_file = OutgrowingBuilder(harness.builder, slow, "memory", times=3)
    request_id = harness.submit(batchFilter=[good, slow])
    assert harness.drain() == [Outcome.STARTED] * 3
    failed = harness.request(request_id)
    assert failed.status == Status.FAILED
    assert failed.attempts == 3
    assert failed.statusMessage == (
        "Internal Server Error: the export failed 3 times (last error: building batch "
        f"{slow} ran out of the builder's time (1 s) or memory (1769 MB)). Submit it again; if it fails again, "
        "contact support with the requestId."
    )
    assert harness.builder.calls[good] == 1  # built once, kept by every later attempt
    assert [d["status"] for d in events.details()] == ["FAILED"]
