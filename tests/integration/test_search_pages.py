"""Search and list cost what one page costs (issue 13 item 9): search reads the page it answers, pages with a
cursor and counts within a bound; list and search link a bounded number of files per job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from exhaust.requests.models import ExhaustRequest, OutputFile, Status

from tests.conftest import call_api, load_event, set_query

BASE_MS = 1_700_000_000_000


def stored(aws_resources, count: int, channel: str = "channel-a", dataset_of=lambda i: "progress-exhaust") -> list[str]:
    """`count` finished requests of `channel`, the i-th submitted i seconds after BASE_MS; their ids, oldest first."""
    from exhaust.requests.store import RequestStore

    store = RequestStore()
    ids = []
    for index in range(count):
        request_id = f"{index:032X}"
        at = BASE_MS + index * 1000
        store.create(
            ExhaustRequest(
                requestId=request_id,
                channel=channel,
                tag="tag-1",
                dataset=dataset_of(index),
                datasetConfig={"batchId": f"b{index}"},
                requestedBy="user-a",
                status=Status.FAILED,
                statusMessage="No data found",
                submittedAt=at,
                updatedAt=at,
                completedAt=at,
            )
        )
        ids.append(request_id)
    return ids


def search(tokens, request: dict[str, Any], token: str = "channel_a", **headers: str) -> tuple[int, dict[str, Any]]:
    event = load_event("search/seed004_filters")
    event["body"] = json.dumps({"request": request})
    status, _, body = call_api(event, tokens[token], **headers)
    return status, body


@pytest.fixture
def items_read(aws_resources) -> Iterator[list[int]]:
    """How many items each Query or Scan of the requests table returned (COUNT queries return none)."""
    from exhaust import aws

    read: list[int] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        read.append(len(parsed.get("Items", [])))

    events = aws.resource("dynamodb").meta.client.meta.events
    events.register("after-call.dynamodb.Query", record)
    events.register("after-call.dynamodb.Scan", record)
    yield read
    events.unregister("after-call.dynamodb.Query", record)
    events.unregister("after-call.dynamodb.Scan", record)


def test_search_pages_newest_first_with_a_cursor_and_counts_all(tokens, aws_resources):
    ids = stored(aws_resources, 5)
    seen: list[str] = []
    cursor = None
    for expected in ([ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]):
        request: dict[str, Any] = {"filters": {"status": "FAILED"}, "limit": 2}
        if cursor:
            request["cursor"] = cursor
        status, body = search(tokens, request)
        assert status == 200
        assert body["result"]["count"] == 5
        page = [job["requestId"] for job in body["result"]["jobs"]]
        assert page == expected
        seen += page
        cursor = body["result"].get("nextCursor")
    assert seen == ids[::-1]
    assert cursor is None


def test_search_reads_only_the_page_it_answers(tokens, aws_resources, items_read):
    stored(aws_resources, 40)
    status, body = search(tokens, {"filters": {"status": "FAILED"}, "limit": 1})
    assert status == 200
    assert len(body["result"]["jobs"]) == 1
    assert body["result"]["count"] == 40
    # Issue 13: every match was read before the cut to the limit. Now: the page's one item, whatever the history.
    assert sum(items_read) == 1


def test_search_with_sparse_matches_fills_pages_from_the_filtered_index(tokens, aws_resources):
    ids = stored(aws_resources, 9, dataset_of=lambda i: "progress-exhaust" if i % 3 == 0 else "response-exhaust")
    wanted = [ids[8 - 2], ids[3], ids[0]]  # indexes 6, 3, 0, newest first
    request: dict[str, Any] = {"filters": {"dataset": "progress-exhaust"}, "limit": 2}
    status, body = search(tokens, request)
    assert status == 200
    assert [job["requestId"] for job in body["result"]["jobs"]] == wanted[:2]
    assert body["result"]["count"] == 3
    status, body = search(tokens, {**request, "cursor": body["result"]["nextCursor"]})
    assert [job["requestId"] for job in body["result"]["jobs"]] == wanted[2:]


def test_search_counts_within_a_bound_and_says_so(tokens, aws_resources, monkeypatch):
    from exhaust.requests import store

    stored(aws_resources, 6)
    monkeypatch.setattr(store, "SEARCH_READ_MAX", 4)
    status, body = search(tokens, {"filters": {"status": "FAILED"}, "limit": 2})
    assert status == 200
    assert body["result"]["count"] == 4
    assert body["result"]["countIsLowerBound"] is True
    assert len(body["result"]["jobs"]) == 2
    monkeypatch.setattr(store, "SEARCH_READ_MAX", 100)
    status, body = search(tokens, {"filters": {"status": "FAILED"}, "limit": 2})
    assert body["result"]["count"] == 6
    assert "countIsLowerBound" not in body["result"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", 42, "eyJyZXF1ZXN0SWQiOiAiQSJ9"])
def test_search_refuses_a_cursor_it_did_not_hand_out(tokens, aws_resources, cursor):
    status, body = search(tokens, {"filters": {"status": "FAILED"}, "cursor": cursor})
    assert status == 400
    assert body["params"]["errmsg"].startswith("request.cursor:")


def test_a_cursor_of_another_channels_search_is_refused(tokens, aws_resources):
    stored(aws_resources, 3)
    _, body = search(tokens, {"filters": {"status": "FAILED"}, "limit": 1})
    cursor = body["result"]["nextCursor"]
    status, body = search(
        tokens, {"filters": {"status": "FAILED"}, "cursor": cursor}, token="channel_b", X_Channel_Id="channel-b"
    )
    assert status == 400
    assert "request.cursor" in body["params"]["errmsg"]


def test_list_and_search_link_one_file_per_job_and_read_links_all(tokens, aws_resources):
    from exhaust.requests.store import RequestStore

    now = int(time.time() * 1000)
    request_id = "F" * 32
    files = [
        OutputFile(
            name=f"part-{n}.zip", key=f"requests/channel-a/{request_id}/part-{n}.zip", rows=1, bytes=1, sha256="0"
        )
        for n in range(3)
    ]
    RequestStore().create(
        ExhaustRequest(
            requestId=request_id,
            channel="channel-a",
            tag="tag-1",
            dataset="progress-exhaust",
            datasetConfig={"batchId": "b"},
            requestedBy="user-a",
            status=Status.SUCCESS,
            submittedAt=now,
            updatedAt=now,
            completedAt=now,
            files=files,
        )
    )
    _, body = search(tokens, {"filters": {"status": "SUCCESS"}})
    listed = load_event("list/by_tag")
    listed["pathParameters"] = {"tag": "tag-1"}
    listed["path"] = "/api/dataset/v1/request/list/tag-1"
    set_query(listed, None)
    _, _, list_body = call_api(listed, tokens["channel_a"])
    for job in (body["result"]["jobs"][0], list_body["result"]["jobs"][0]):
        assert [file["name"] for file in job["files"]] == ["part-0.zip"]
        assert job["downloadUrls"] == [job["files"][0]["url"]]
        assert job["filesTotal"] == 3
    read = load_event("read/by_request_id")
    read["pathParameters"] = {"tag": "tag-1"}
    read["path"] = "/api/dataset/v1/request/read/tag-1"
    set_query(read, {"requestId": request_id})
    _, _, read_body = call_api(read, tokens["channel_a"])
    assert [file["name"] for file in read_body["result"]["files"]] == ["part-0.zip", "part-1.zip", "part-2.zip"]
    assert len(read_body["result"]["downloadUrls"]) == 3
    assert "filesTotal" not in read_body["result"]
