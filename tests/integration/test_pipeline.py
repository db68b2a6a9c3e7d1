"""The pipeline on moto: dispatcher -> the workflow definition run by the local runner -> steps -> S3/DynamoDB.

moto's Step Functions cannot run Lambda code, so the same definition runs in-process (exhaust_devkit.pipeline.runner);
the builders read a tiny generated lake from a directory and write real encrypted zips to moto S3.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import pyzipper
from exhaust import aws
from exhaust.aes_zip import BuiltFile
from exhaust.builders import BatchBuild, build_batch_file
from exhaust.pipeline.callbacks import CallbackDeliverer
from exhaust.pipeline.definition import workflow_definition
from exhaust.pipeline.dispatch import Dispatcher, Outcome
from exhaust.pipeline.errors import TransientFailure
from exhaust.pipeline.notify import SIGNATURE_HEADER, Notifier, verify_signature
from exhaust.pipeline.steps import Pipeline
from exhaust.pipeline.sweeper import Sweeper
from exhaust.requests.adapters import KeyVault, RequestQueue
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.requests.store import RequestStore
from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, step_functions

PASSWORD = "s3cret-Key!"
CALLBACK_SECRET = "callback-signing-secret"


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> dict[str, Any]:
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.store import Lake
    from exhaust_devkit.lake.generator import generate

    root = tmp_path_factory.mktemp("lake")
    samples = generate("tiny", 7, str(root))
    catalog = Catalog(Lake.open(str(root)))
    main_batches = [batch.batch_id for batch in catalog.batches_of(samples["collectionId"])]
    second = next(
        batch.batch_id
        for batch in catalog.batches.values()
        if not batch.retired and not batch.requires_consent and batch.collection_id != samples["collectionId"]
    )
    return {"root": str(root), "samples": samples, "mainBatches": main_batches, "noConsentBatch": second}


class CountingBuilder:
    """The real builder, counting calls per batch, failing the first calls of chosen batches."""

    def __init__(self, fail_first: dict[str, Exception] | None = None):
        self.calls: dict[str, int] = {}
        self.fail_first = dict(fail_first or {})

    def __call__(self, build: BatchBuild, bucket: str, key_prefix: str, *, compresslevel: int) -> BuiltFile:
        batch_id = build.batch_id
        self.calls[batch_id] = self.calls.get(batch_id, 0) + 1
        if batch_id in self.fail_first:
            raise self.fail_first.pop(batch_id)
        return build_batch_file(build, bucket, key_prefix, compresslevel=compresslevel)


class HangingWorkflow(LocalWorkflow):
    """Starts executions that never run: they stay RUNNING (a hung or very slow build)."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        arn = self.execution_arn(name)
        self.statuses[arn] = "RUNNING"
        return arn


@dataclass
class Harness:
    settings: Any
    lake: dict[str, Any]
    builder: CountingBuilder = field(default_factory=CountingBuilder)
    callbacks: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    numbers: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.store = RequestStore()
        self.queue = RequestQueue()
        self.notifier = Notifier(settings=self.settings, post=self._post, sleep=lambda _: None)
        self.deliverer = CallbackDeliverer(store=self.store, notifier=self.notifier)
        self.pipeline = Pipeline(
            settings=self.settings,
            notifier=self.notifier,
            lake_uri=self.lake["root"],
            build_file=self.builder,
            retry_base_delay_seconds=0,
            transient_retry_delay_seconds=0,
        )
        self.workflow = self.new_workflow()
        self.dispatcher = Dispatcher(workflow=self.workflow, settings=self.settings, throttle_delay_seconds=0)

    def new_workflow(self) -> LocalWorkflow:
        runner = LocalRunner(workflow_definition(), step_functions(self.pipeline), retry_interval_scale=0)
        return LocalWorkflow(runner, synchronous=True)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.callbacks.append((url, body, headers))
        return 200

    def submit(
        self,
        dataset: str = "progress-exhaust",
        callback_url: str | None = None,
        channel: str | None = None,
        **config: Any,
    ) -> str:
        now = int(time.time() * 1000)
        request_id = f"REQ{next(self.numbers)}T{now}"
        self.store.create(
            ExhaustRequest(
                requestId=request_id,
                channel=channel or self.lake["samples"]["channel"],
                tag="tag-1",
                dataset=dataset,
                datasetConfig=config,
                requestedBy="user-1",
                submittedAt=now,
                updatedAt=now,
                encryptedKey=KeyVault().encrypt(PASSWORD, request_id),
                callbackUrl=callback_url,
            )
        )
        self.queue.send(request_id)
        return request_id

    def messages(self) -> list[dict[str, Any]]:
        answer = aws.client("sqs").receive_message(
            QueueUrl=self.settings.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return answer.get("Messages", [])

    def deliver_callbacks(self) -> int:
        """What the callbacks function does in AWS: deliver the queued callbacks (answers how many messages)."""
        return self.deliverer.drain(self.settings.callback_queue_url)

    def drain(self, rounds: int = 10) -> list[Outcome]:
        """Deliver every queued message to the dispatcher (the workflow runs inline) until the queue is empty, then
        the callbacks queued meanwhile."""
        outcomes: list[Outcome] = []
        for _ in range(rounds):
            messages = self.messages()
            if not messages:
                self.deliver_callbacks()
                return outcomes
            for message in messages:
                outcomes.append(self.dispatcher.dispatch_message(message["Body"]))
                aws.client("sqs").delete_message(
                    QueueUrl=self.settings.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return outcomes

    def request(self, request_id: str) -> ExhaustRequest:
        found = self.store.get(request_id)
        assert found is not None
        return found


@pytest.fixture
def harness(aws_resources, lake) -> Harness:
    settings = aws_resources.model_copy(update={"callback_secret": CALLBACK_SECRET, "max_running_per_channel": 2})
    return Harness(settings=settings, lake=lake)


def object_keys(settings) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=settings.exhaust_bucket, Prefix="requests/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def read_zip_csv(settings, key: str, password: str) -> str:
    body = aws.client("s3").get_object(Bucket=settings.exhaust_bucket, Key=key)["Body"].read()
    with pyzipper.AESZipFile(io.BytesIO(body)) as archive:
        archive.setpassword(password.encode())
        (name,) = archive.namelist()
        return archive.read(name).decode("utf-8")


def test_request_goes_to_success_with_encrypted_zips_a_manifest_progress_and_a_signed_callback(harness):
    batches = harness.lake["mainBatches"][:2]
    request_id = harness.submit(
        batchFilter=[*batches, batches[0], "unknown-batch"], callback_url="https://partner.example/hook"
    )
    assert harness.drain() == [Outcome.STARTED]

    done = harness.request(request_id)
    assert done.status == Status.SUCCESS, done.statusMessage
    assert done.attempts == 0
    assert done.encryptedKey is None  # the key is gone once the request ended
    assert done.completedAt is not None
    assert done.executionTimeMs is not None
    assert sorted(f.batchId for f in done.files) == sorted(batches)
    assert done.progress.batchesTotal == 2
    assert done.progress.batchesDone == 2
    assert done.progress.rowsWritten == sum(f.rows for f in done.files) > 0

    prefix = f"requests/{done.channel}/{request_id}/"
    keys = object_keys(harness.settings)
    manifests = [f"{prefix}manifest.json", f"{prefix}manifest/files-00000.json"]
    assert keys == sorted([*(f.key for f in done.files), *manifests])
    assert all(key.startswith(prefix) for key in keys)
    assert all(key.endswith(".zip") for key in keys if key not in manifests)
    manifest = json.loads(
        aws.client("s3").get_object(Bucket=harness.settings.exhaust_bucket, Key=f"{prefix}manifest.json")["Body"].read()
    )
    assert [f["sha256"] for f in manifest["files"]] == [f.sha256 for f in done.files]
    assert manifest["totalRows"] == done.progress.rowsWritten
    text = read_zip_csv(harness.settings, done.files[0].key, PASSWORD)
    assert text.count("\r\n") == done.files[0].rows + 1  # header + rows
    with pytest.raises(RuntimeError):
        read_zip_csv(harness.settings, done.files[0].key, "wrong-password")

    # The partner's callback: the completion detail, signed with the shared secret.
    ((url, body, headers),) = harness.callbacks
    assert url == "https://partner.example/hook"
    detail = json.loads(body)
    assert detail == {
        "eventId": f"{request_id}-{done.submittedAt}-SUCCESS",
        "requestId": request_id,
        "channel": harness.lake["samples"]["channel"],
        "dataset": "progress-exhaust",
        "status": "SUCCESS",
    }
    signature = headers[SIGNATURE_HEADER]
    assert verify_signature(CALLBACK_SECRET, signature, body)
    assert not verify_signature("another-secret", signature, body)
    assert not verify_signature(CALLBACK_SECRET, signature, body.replace(b"SUCCESS", b"FAILED"))
    assert not verify_signature(CALLBACK_SECRET, signature, body, now=time.time() + 3600)  # a replay, later


def test_a_request_that_opts_into_the_byte_order_mark_gets_it_and_one_that_does_not_never(harness):
    batch = harness.lake["mainBatches"][0]
    marked = harness.submit(batchId=batch, csvBom=True)
    plain = harness.submit(batchId=batch)
    harness.drain()
    texts = {}
    for request_id in (marked, plain):
        done = harness.request(request_id)
        assert done.status == Status.SUCCESS, done.statusMessage
        (file,) = done.files
        texts[request_id] = read_zip_csv(harness.settings, file.key, PASSWORD)
    assert texts[marked] == "\ufeff" + texts[plain]
    assert not texts[plain].startswith("\ufeff")


def test_duplicate_delivery_starts_one_execution(harness):
    from exhaust.pipeline.executions import execution_name, workflow_input

    request_id = harness.submit(batchId=harness.lake["mainBatches"][0])
    harness.queue.send(request_id)  # SQS delivers at least once: the same request twice
    outcomes = harness.drain()
    assert sorted(outcomes) == sorted([Outcome.STARTED, Outcome.IGNORED])
    assert len(harness.workflow.statuses) == 1
    assert harness.request(request_id).status == Status.SUCCESS

    # A delivery started the execution, then its claim was undone (the start call timed out): a redelivery
    # claims again but cannot start a second execution of the same attempt.
    other = harness.submit(batchId=harness.lake["mainBatches"][0])
    harness.workflow.start(execution_name(harness.request(other)), workflow_input(harness.request(other)))
    assert harness.drain() == [Outcome.ALREADY_STARTED]
    assert len(harness.workflow.statuses) == 2


def test_builder_failures_are_retried_and_built_batches_are_not_rebuilt(harness):
    first, second = harness.lake["mainBatches"][:2]
    harness.builder.fail_first[first] = TransientFailure("throttled")  # retried inside the execution
    harness.builder.fail_first[second] = RuntimeError("the builder crashed")  # fails the attempt
    request_id = harness.submit(batchFilter=[first, second])
    outcomes = harness.drain()
    assert outcomes == [Outcome.STARTED, Outcome.STARTED]  # the failed attempt queued the request again

    done = harness.request(request_id)
    assert done.status == Status.SUCCESS
    assert done.attempts == 1
    # first: a throttled try and its retry in attempt 1, not rebuilt in attempt 2; second: once per attempt.
    assert harness.builder.calls == {first: 2, second: 2}
    assert sorted(f.batchId for f in done.files) == sorted([first, second])
    assert len(harness.workflow.statuses) == 2


def test_permanent_failures_are_failed_with_their_message_and_never_retried(harness):
    from exhaust.builders.errors import NoDataFound
    from exhaust.datasets.registry import BUILT_IN, DatasetLimits, DatasetRegistry

    lake = harness.lake
    limited = next(d for d in BUILT_IN if d.datasetId == "response-exhaust")
    DatasetRegistry().put(limited.model_copy(update={"limits": DatasetLimits(maxBatchesPerRequest=1)}))
    first, second = lake["mainBatches"][:2]
    harness.builder.fail_first[second] = NoDataFound()
    expected = {
        harness.submit(batchId=lake["samples"]["retiredBatchId"]): "The request is made for retired collection",
        harness.submit(batchFilter=["no-such-batch"]): "No data found",
        harness.submit(dataset="userinfo-exhaust", batchId=lake["noConsentBatch"]): (
            "Invalid request. User info exhaust is not applicable for collections which don't request for user "
            "consent to share data"
        ),
        harness.submit(dataset="response-exhaust", batchFilter=[first, second]): (
            "Number of batches in request exceeded. It should be within 1"
        ),
        # A batch without rows fails the request; the other batch stays recorded (and counted) for a retry.
        harness.submit(batchFilter=[first, second]): "No data found",
    }
    assert harness.drain() == [Outcome.STARTED] * len(expected)
    for request_id, message in expected.items():
        failed = harness.request(request_id)
        assert failed.status == Status.FAILED
        assert failed.statusMessage == message
        assert failed.attempts == 1
        assert failed.encryptedKey is None
    assert harness.messages() == []  # none queued again
    assert harness.builder.calls == {first: 1, second: 1}
    failed_last = harness.request(list(expected)[-1])
    assert failed_last.files == []  # built files are recorded outside the item (docs/dynamodb.md)
    assert failed_last.progress.batchesDone == 1
    recorded = harness.store.batch_output(failed_last, first)
    assert recorded is not None
    assert recorded.batchId == first
    assert harness.store.batch_output(failed_last, second) is None


def test_another_channels_batches_are_never_built(harness):
    batches = harness.lake["mainBatches"][:2]
    request_id = harness.submit(channel="some-other-channel", batchFilter=batches)
    assert harness.drain() == [Outcome.STARTED]
    failed = harness.request(request_id)
    assert failed.status == Status.FAILED
    assert failed.statusMessage == "No data found"
    assert harness.builder.calls == {}
    assert object_keys(harness.settings) == []


def test_transient_failures_fail_the_request_after_three_attempts(harness):
    batch = harness.lake["mainBatches"][0]

    def always_broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    harness.pipeline.build_file = always_broken
    request_id = harness.submit(batchId=batch)
    assert harness.drain() == [Outcome.STARTED] * 3
    failed = harness.request(request_id)
    assert failed.status == Status.FAILED
    assert failed.attempts == 3
    assert failed.statusMessage is not None
    assert failed.statusMessage.startswith("Internal Server Error: ")


def test_worker_killed_mid_request_is_recovered_by_the_sweeper(harness):
    request_id = harness.submit(batchId=harness.lake["mainBatches"][0])

    class DyingWorkflow(LocalWorkflow):
        def start(self, name, payload):  # the process died right after the execution was handed over
            return self.execution_arn(name)

    harness.dispatcher.workflow = DyingWorkflow(harness.workflow.runner)
    assert harness.drain() == [Outcome.STARTED]
    assert harness.request(request_id).status == Status.PROCESSING

    # A new worker: it knows nothing of the dead one's executions.
    harness.workflow = harness.new_workflow()
    harness.dispatcher.workflow = harness.workflow
    sweeper = Sweeper(pipeline=harness.pipeline, workflow=harness.workflow, processing_grace_ms=0)
    report = sweeper.sweep()
    assert report.recovered == [request_id]
    assert harness.request(request_id).status == Status.SUBMITTED
    assert harness.drain() == [Outcome.STARTED]
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS
    assert done.attempts == 0  # the worker's death was not the request's failure (issue 12, item 7)
    assert done.deferrals == 1


def test_sweeper_requeues_requests_whose_message_was_lost_and_stops_stuck_ones(harness):
    request_id = harness.submit(batchId=harness.lake["mainBatches"][0])
    harness.messages()  # the message is received and lost
    request = harness.request(request_id)
    old = request.model_copy(update={"updatedAt": request.updatedAt - 3_600_000})
    harness.store.replace(old, request.version)
    sweeper = Sweeper(pipeline=harness.pipeline, workflow=harness.workflow)
    assert sweeper.sweep().requeued == [request_id]
    assert sweeper.sweep().requeued == []  # touched: not queued again on every sweep

    hanging = HangingWorkflow(harness.workflow.runner)
    harness.dispatcher.workflow = hanging
    harness.drain()
    claimed = harness.request(request_id)
    assert claimed.status == Status.PROCESSING
    # Running and quiet for 10 minutes: a big batch, not a stuck one.
    quiet = harness.store.replace(
        claimed.model_copy(update={"updatedAt": claimed.updatedAt - 600_000}), claimed.version
    )
    assert Sweeper(pipeline=harness.pipeline, workflow=hanging).sweep().recovered == []
    stuck = quiet.model_copy(update={"updatedAt": claimed.updatedAt - 7 * 3_600_000})
    harness.store.replace(stuck, quiet.version)
    report = Sweeper(pipeline=harness.pipeline, workflow=hanging).sweep()
    assert report.recovered == [request_id]
    assert hanging.describe(claimed.executionArn) == "ABORTED"
    assert harness.request(request_id).status == Status.SUBMITTED


def test_channel_throttle_keeps_requests_submitted_and_requeues_them(harness):
    harness.dispatcher.workflow = HangingWorkflow(harness.workflow.runner)
    batch = harness.lake["mainBatches"][0]
    first, second, third = (harness.submit(batchId=batch) for _ in range(3))
    dispatched = [harness.dispatcher.dispatch_message(m["Body"]) for m in harness.messages()]
    assert dispatched == [Outcome.STARTED, Outcome.STARTED, Outcome.THROTTLED]
    assert [harness.request(r).status for r in (first, second, third)] == [
        Status.PROCESSING,
        Status.PROCESSING,
        Status.SUBMITTED,
    ]
    # Queued again for later; another channel is not held back by this one.
    other = harness.submit(batchId=batch)
    harness.store.replace(harness.request(other).model_copy(update={"channel": "other-channel"}), 1)
    again = [json.loads(m["Body"])["requestId"] for m in harness.messages()]
    assert third in again
    assert other in again
    assert harness.dispatcher.dispatch(other) == Outcome.STARTED


def test_a_throttled_request_says_why_it_waits_and_the_sweeper_does_not_queue_it_twice(harness: Harness) -> None:
    harness.dispatcher.workflow = HangingWorkflow(harness.workflow.runner)
    batch = harness.lake["mainBatches"][0]
    first, second, waiting = (harness.submit(batchId=batch) for _ in range(3))
    for message in harness.messages():
        if json.loads(message["Body"])["requestId"] != waiting:
            harness.dispatcher.dispatch_message(message["Body"])
    # Submitted long ago, and throttled ever since: each redelivery is turned back while the channel is full.
    long_ago = int(time.time() * 1000) - 20 * 60 * 1000
    stored = harness.request(waiting)
    harness.store.replace(stored.model_copy(update={"updatedAt": long_ago}), stored.version)
    assert harness.dispatcher.dispatch(waiting) == Outcome.THROTTLED

    seen = harness.request(waiting)
    assert seen.status == Status.SUBMITTED
    channel = seen.channel
    assert seen.statusMessage == (
        f"Queued: channel {channel} already has 2 requests running (at most 2); this one starts when one of them ends"
    )
    assert seen.updatedAt > long_ago
    # The sweeper re-queues SUBMITTED requests nothing has touched for 15 minutes: not this one, which is queued.
    assert waiting not in Sweeper(pipeline=harness.pipeline).sweep().requeued

    harness.dispatcher.workflow = harness.workflow
    for running in (first, second):
        harness.store.replace(
            harness.request(running).model_copy(update={"status": Status.FAILED}), harness.request(running).version
        )
    assert harness.dispatcher.dispatch(waiting) == Outcome.STARTED
    assert harness.request(waiting).statusMessage is None


def test_local_worker_drains_the_queue_and_stops_within_seconds(harness):
    import threading

    from exhaust_devkit.local.worker import LocalWorker

    worker = LocalWorker(harness.settings, workflow=harness.workflow, sweep_interval=3600)
    request_id = harness.submit(batchId=harness.lake["mainBatches"][0])
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while harness.request(request_id).status != Status.SUCCESS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert harness.request(request_id).status == Status.SUCCESS
    stopping_at = time.monotonic()
    worker.stopping.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - stopping_at < 3
    assert harness.messages() == []  # the message was deleted once dispatched
