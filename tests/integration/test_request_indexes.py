"""The requests table's indexes hold only what their queries filter on, and every query still answers whole
requests; finished requests expire after the retention setting (issue 27 item 8). On moto, which projects index
entries as DynamoDB does (KEYS_ONLY, INCLUDE)."""

from __future__ import annotations

from typing import Any

import pytest
from exhaust.requests.models import ExhaustRequest, OutputFile, Progress, Status
from exhaust.resources import REQUESTS_TABLE

BASE_MS = 1_700_000_000_000
DAY_MS = 86_400_000
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:exhaust:run-1"


def request(index: int, status: Status, channel: str = "channel-a", dataset: str = "progress-exhaust", **extra: Any):
    at = BASE_MS + index * 1000
    finished = status in (Status.SUCCESS, Status.FAILED, Status.CANCELLED)
    return ExhaustRequest(
        requestId=f"{index:032X}",
        channel=channel,
        tag="tag-1",
        dataset=dataset,
        datasetConfig={"batchId": f"b{index}", "ratio": 0.5},
        requestedBy="user-a",
        status=status,
        submittedAt=at,
        updatedAt=at,
        completedAt=at if finished else None,
        **extra,
    )


@pytest.fixture
def store(aws_resources):
    from exhaust.requests.store import RequestStore

    return RequestStore()


def index_entries(store, index: str) -> list[dict[str, Any]]:
    partition = next(spec.partition_key for spec in REQUESTS_TABLE.indexes if spec.name == index)
    items = store.table.scan(IndexName=index)["Items"]
    assert items, f"{index} holds no entry"
    return sorted(items, key=lambda item: (item[partition], item["requestId"]))


def test_each_index_holds_its_keys_and_the_attributes_its_queries_filter_on(store):
    store.create(request(1, Status.FAILED, statusMessage="No data found"))
    for index in REQUESTS_TABLE.indexes:
        keys = {"requestId", index.partition_key, index.sort_key}
        for entry in index_entries(store, index.name):
            assert set(entry) <= keys | set(index.projected), index.name
            assert "datasetConfig" not in entry
            assert "progress" not in entry


def test_list_and_search_answer_whole_requests(store):
    stored = [request(i, Status.FAILED, statusMessage="No data found") for i in range(3)]
    for item in stored:
        store.create(item)
    newest_first = stored[::-1]

    listed, _ = store.list_by_tag("channel-a", "tag-1", 10)
    assert listed == newest_first  # every field, datasetConfig's float included
    for filters in ({"channel": "channel-a"}, {"status": "FAILED"}, {"dataset": "progress-exhaust"}):
        found, _ = store.search(filters, None, 10)
        assert found == newest_first, filters
    found, _ = store.search({"channel": "channel-a", "status": "FAILED", "dataset": "progress-exhaust"}, None, 2)
    assert found == newest_first[:2]
    assert store.count_matches({"status": "FAILED", "dataset": "progress-exhaust"}, None) == (3, True)
    assert store.count_matches({"dataset": "progress-exhaust", "status": "SUCCESS"}, None) == (0, True)


def test_the_pipelines_queries_answer_whole_requests(store):
    submitted = request(1, Status.SUBMITTED)
    processing = request(2, Status.PROCESSING, executionArn=EXECUTION, progress=Progress(batchesTotal=2))
    other_channel = request(3, Status.PROCESSING, channel="channel-b", executionArn=EXECUTION)
    notified = request(4, Status.SUCCESS, outbox=["event"])
    for item in (submitted, processing, other_channel, notified, request(5, Status.SUCCESS)):
        store.create(item)

    assert store.count_in_status(Status.PROCESSING) == 2
    assert store.count_in_status(Status.PROCESSING, "channel-a") == 1
    assert store.open_of("channel-a", "progress-exhaust") == [submitted, processing]
    assert store.in_status(Status.SUBMITTED) == [submitted]
    assert store.in_status(Status.PROCESSING, updated_before=other_channel.updatedAt + 1) == [processing, other_channel]
    assert store.in_status(Status.PROCESSING, updated_before=processing.updatedAt + 1) == [processing]
    assert store.in_status(Status.PROCESSING, updated_before=processing.updatedAt) == []
    assert store.with_pending_notices(Status.SUCCESS, BASE_MS) == [notified]


def test_a_builders_batch_record_writes_no_index_entry(store):
    processing = request(1, Status.PROCESSING, executionArn=EXECUTION, progress=Progress(batchesTotal=2))
    store.create(processing)
    before = {index.name: index_entries(store, index.name) for index in REQUESTS_TABLE.indexes}
    output = OutputFile(name="b1.zip", key="requests/b1.zip", rows=10, bytes=100, sha256="0" * 64, batchId="b1")

    assert store.record_batch(processing, EXECUTION, output, BASE_MS + 5000)

    assert store.get(processing.requestId).progress.batchesDone == 1
    after = {index.name: index_entries(store, index.name) for index in REQUESTS_TABLE.indexes}
    assert after == before


@pytest.mark.parametrize("status", [Status.SUCCESS, Status.FAILED, Status.CANCELLED])
def test_a_finished_request_expires_after_the_retention(aws_resources, status):
    from exhaust.requests.store import RequestStore

    store = RequestStore(retention_days=30)
    finished = request(1, status).model_copy(update={"completedAt": BASE_MS + DAY_MS})
    store.create(finished)
    item = store.table.get_item(Key={"requestId": finished.requestId})["Item"]
    assert item["expiresAt"] == (BASE_MS + DAY_MS) // 1000 + 30 * 86_400
    assert store.get(finished.requestId) == finished  # the expiry is the table's, not a field of the request


def test_an_open_request_never_expires_and_a_reopened_one_loses_its_expiry(aws_resources):
    from exhaust.requests.store import RequestStore

    store = RequestStore(retention_days=30)
    failed = request(1, Status.FAILED, statusMessage="No data found")
    store.create(failed)
    reopened = failed.model_copy(update={"status": Status.SUBMITTED, "statusMessage": None, "completedAt": None})
    store.replace(reopened, failed.version)
    assert "expiresAt" not in store.table.get_item(Key={"requestId": failed.requestId})["Item"]
    store.create(request(2, Status.PROCESSING, executionArn=EXECUTION))
    assert "expiresAt" not in store.table.get_item(Key={"requestId": f"{2:032X}"})["Item"]


def test_no_expiry_when_requests_are_kept_for_ever(aws_resources):
    from exhaust.requests.store import RequestStore

    store = RequestStore(retention_days=0)
    store.create(request(1, Status.SUCCESS))
    assert "expiresAt" not in store.table.get_item(Key={"requestId": f"{1:032X}"})["Item"]


def test_the_retention_comes_from_the_functions_environment(monkeypatch, aws_resources):
    from exhaust.requests.store import RequestStore
    from exhaust.settings import get_settings

    assert RequestStore().retention_days == 365
    monkeypatch.setenv("EXHAUST_REQUEST_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    assert RequestStore().retention_days == 7
