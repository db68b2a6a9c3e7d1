"""Requests of thousands of batches end to end (issue 13): the real workflow document in the local runner, the real
store and S3 in moto, only the zip builder and the lake's batch lookup stubbed so a batch costs milliseconds.

The runner refuses any state over 256 KiB and the store any item over 400 KB, so these runs pass only when no AWS
limit is crossed. The 10,000-batch variant runs with `make test-scale` (EXHAUST_SCALE_TESTS=1).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from exhaust import aws
from exhaust.aes_zip import BuiltFile
from exhaust.aws_limits import DYNAMODB_ITEM_MAX_BYTES, dynamodb_item_size
from exhaust.builders import BatchBuild
from exhaust.lake.catalog import BatchInfo, CollectionInfo
from exhaust.pipeline.definition import workflow_definition
from exhaust.pipeline.dispatch import Dispatcher, Outcome
from exhaust.pipeline.errors import TransientFailure
from exhaust.pipeline.steps import Pipeline
from exhaust.pipeline.steps.context import BatchFinder
from exhaust.requests.adapters import KeyVault
from exhaust.requests.models import ExhaustRequest, OutputFile, Status
from exhaust.requests.outputs import MANIFEST_PAGE_FILES
from exhaust.requests.store import NotOwned, RequestStore, to_item
from exhaust.settings import RuntimeSettings
from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, step_functions

CHANNEL = "channel-a"
SCALE_TESTS = os.environ.get("EXHAUST_SCALE_TESTS") == "1"


class StubBuilder:
    """Answers a built file per batch without reading the lake or uploading (counts its calls)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, build: BatchBuild, bucket: str, key_prefix: str, *, compresslevel: int) -> BuiltFile:
        batch_id, day = build.batch_id, build.date
        with self.lock:
            self.calls[batch_id] = self.calls.get(batch_id, 0) + 1
        name = f"{batch_id}_progress_{day:%Y%m%d}.zip"
        return BuiltFile(name=name, key=f"{key_prefix}{name}", rows=100, bytes=20_000, sha256="0" * 64)


def many_batches(batches: int) -> BatchFinder:
    """The lake's batch lookup answering `batches` batches of the request's channel."""

    def find(lake: str, request: ExhaustRequest) -> list[BatchInfo]:
        collection = CollectionInfo("do_collection", "A collection", request.channel, "Course", "Live", False, 1)
        return [BatchInfo(f"batch-{index:05d}", f"Batch {index}", collection) for index in range(batches)]

    return find


def run_request(settings: RuntimeSettings, batches: int, builder: StubBuilder, concurrency: int = 10) -> str:
    """Submit a request of `batches` batches and run it to its end; its requestId."""
    from exhaust.datasets.registry import BUILT_IN, DatasetLimits, DatasetRegistry

    progress = next(d for d in BUILT_IN if d.datasetId == "progress-exhaust")
    DatasetRegistry().put(progress.model_copy(update={"limits": DatasetLimits(maxBatchesPerRequest=10_000)}))
    pipeline = Pipeline(settings=settings, build_file=builder, find_batches=many_batches(batches))
    runner = LocalRunner(workflow_definition(concurrency), step_functions(pipeline), retry_interval_scale=0)
    dispatcher = Dispatcher(workflow=LocalWorkflow(runner, synchronous=True), settings=settings)
    now = int(time.time() * 1000)
    request_id = f"SCALE{batches}T{now}"
    RequestStore().create(
        ExhaustRequest(
            requestId=request_id,
            channel=CHANNEL,
            tag="tag-1",
            dataset="progress-exhaust",
            datasetConfig={"batchFilter": ["all"]},
            requestedBy="user-a",
            submittedAt=now,
            updatedAt=now,
            encryptedKey=KeyVault().encrypt("a-password", request_id),
        )
    )
    assert dispatcher.dispatch_message(json.dumps({"requestId": request_id, "attempt": 0})) == Outcome.STARTED
    return request_id


def assert_built_within_limits(settings: RuntimeSettings, request_id: str, batches: int, builder: StubBuilder) -> None:
    done = RequestStore().get(request_id)
    assert done is not None
    assert done.status == Status.SUCCESS, done.statusMessage
    assert done.progress.model_dump() == {
        "batchesTotal": batches,
        "batchesDone": batches,
        "rowsWritten": 100 * batches,
        "bytesWritten": 20_000 * batches,
    }
    assert done.filesTotal == batches
    assert sorted(builder.calls) == [f"batch-{index:05d}" for index in range(batches)]
    assert set(builder.calls.values()) == {1}
    # Issue 13: each batch appended its file to the item, over 400 KB at about 1,250 batches.
    assert dynamodb_item_size(to_item(done)) < DYNAMODB_ITEM_MAX_BYTES // 50
    s3 = aws.client("s3")
    prefix = f"requests/{CHANNEL}/{request_id}/"
    manifest = json.loads(s3.get_object(Bucket=settings.exhaust_bucket, Key=f"{prefix}manifest.json")["Body"].read())
    assert len(manifest["files"]) == batches
    assert manifest["totalRows"] == 100 * batches
    listed = s3.list_objects_v2(Bucket=settings.exhaust_bucket, Prefix=f"{prefix}manifest/")
    pages = -(-batches // MANIFEST_PAGE_FILES)
    assert [item["Key"] for item in listed["Contents"]] == [
        f"{prefix}manifest/files-{page:05d}.json" for page in range(pages)
    ]


def test_a_request_of_2000_batches_succeeds_with_every_limit_enforced(aws_resources):
    builder = StubBuilder()
    request_id = run_request(aws_resources, 2000, builder)
    assert_built_within_limits(aws_resources, request_id, 2000, builder)


@pytest.mark.skipif(not SCALE_TESTS, reason="the 10,000-batch run takes minutes: make test-scale")
def test_a_request_of_10000_batches_succeeds_with_every_limit_enforced(aws_resources):
    builder = StubBuilder()
    request_id = run_request(aws_resources, 10_000, builder)
    assert_built_within_limits(aws_resources, request_id, 10_000, builder)


def test_a_batch_whose_answer_was_lost_is_counted_once(aws_resources, monkeypatch):
    """Its record was written, then the invocation failed (the answer lost): the retry finds the record."""
    lost: list[str] = []
    real = RequestStore.record_batch

    def record_then_lose_the_answer(
        store: RequestStore, request: ExhaustRequest, execution_arn: str, output: OutputFile, now_ms: int
    ) -> bool:
        counted = real(store, request, execution_arn, output, now_ms)
        if not lost:
            lost.append(output.batchId)
            raise TransientFailure("the invocation timed out after the write")
        return counted

    monkeypatch.setattr(RequestStore, "record_batch", record_then_lose_the_answer)
    builder = StubBuilder()
    request_id = run_request(aws_resources, 5, builder, concurrency=2)
    assert len(lost) == 1
    assert_built_within_limits(aws_resources, request_id, 5, builder)


MINE = "arn:aws:states:us-east-1:1:execution:m:mine"


def processing_request(store: RequestStore, request_id: str, now: int) -> ExhaustRequest:
    """A stored request PROCESSING under the execution MINE."""
    request = ExhaustRequest(
        requestId=request_id,
        channel=CHANNEL,
        tag="tag-1",
        dataset="progress-exhaust",
        datasetConfig={"batchId": "b"},
        requestedBy="user-a",
        status=Status.PROCESSING,
        submittedAt=now,
        updatedAt=now,
        executionArn=MINE,
    )
    assert store.create(request)
    return request


def test_a_batch_record_counts_once_and_a_stale_execution_writes_nothing(aws_resources):
    store = RequestStore()
    now = int(time.time() * 1000)
    request = processing_request(store, "R" * 32, now)
    output = OutputFile(name="b1.zip", key="requests/b1.zip", rows=7, bytes=70, sha256="0" * 64, batchId="b1")
    assert store.record_batch(request, MINE, output, now) is True
    assert store.record_batch(request, MINE, output, now) is False
    counted = store.get(request.requestId)
    assert counted is not None
    assert (counted.progress.batchesDone, counted.progress.rowsWritten, counted.progress.bytesWritten) == (1, 7, 70)
    assert counted.version == request.version + 1
    assert store.batch_output(request, "b1") == output
    other = output.model_copy(update={"batchId": "b2"})
    with pytest.raises(NotOwned):
        store.record_batch(request, "arn:aws:states:us-east-1:1:execution:m:stale", other, now)
    # All or nothing: the stale execution's record was rolled back with its count.
    assert store.batch_output(request, "b2") is None
    unchanged = store.get(request.requestId)
    assert unchanged is not None
    assert unchanged.progress == counted.progress
    assert unchanged.version == counted.version


def test_a_transaction_conflict_with_another_builder_is_tried_again(aws_resources, monkeypatch):
    from botocore.exceptions import ClientError
    from exhaust.requests import store as store_module

    store = RequestStore()
    now = int(time.time() * 1000)
    request = processing_request(store, "C" * 32, now)
    client = store.table.meta.client
    real = client.transact_write_items
    conflicts = [1, 2]

    def conflicting(**arguments: Any) -> Any:
        if conflicts:
            conflicts.pop()
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return real(**arguments)

    monkeypatch.setattr(client, "transact_write_items", conflicting)
    monkeypatch.setattr(store_module, "TRANSACTION_CONFLICT_BACKOFF_SECONDS", 0)
    output = OutputFile(name="b1.zip", key="requests/b1.zip", rows=7, bytes=70, sha256="0" * 64, batchId="b1")
    assert store.record_batch(request, MINE, output, now) is True
    assert conflicts == []
    counted = store.get(request.requestId)
    assert counted is not None
    assert counted.progress.batchesDone == 1


def test_a_full_write_that_meets_a_builders_transaction_is_a_lost_race(aws_resources, monkeypatch):
    """DynamoDB refuses a PutItem on an item a transaction holds (TransactionConflictException): the writer (e.g. a
    cancel while builders record) re-reads and tries again, as after any lost race, instead of failing."""
    from botocore.exceptions import ClientError
    from exhaust.requests.store import ConcurrentUpdate

    store = RequestStore()
    request = processing_request(store, "D" * 32, int(time.time() * 1000))
    client = store.table.meta.client

    def put_conflicting(**arguments: Any) -> Any:
        raise ClientError({"Error": {"Code": "TransactionConflictException", "Message": "conflict"}}, "PutItem")

    def transaction_conflicting(**arguments: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )

    monkeypatch.setattr(store.table, "put_item", put_conflicting)
    monkeypatch.setattr(client, "transact_write_items", transaction_conflicting)
    with pytest.raises(ConcurrentUpdate):
        store.replace(request.model_copy(update={"statusMessage": "x"}), request.version)
