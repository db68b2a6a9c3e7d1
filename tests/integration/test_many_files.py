"""1,000 requests of 1,000 files each (issue 13): list, search and submit read only a page, every answer stays far
below Lambda's 6 MB, and read pages a request's links.

The request items and their outputs are written straight through the store and S3 (as Finalize leaves them: the
first files on the item with `filesTotal`, the complete list in the manifest), not built, so it takes seconds.
Manifests are written for the requests the test reads: list and search never open one (asserted: no S3 call).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from exhaust.aws_limits import LAMBDA_SYNC_RESPONSE_MAX_BYTES
from exhaust.requests.models import ExhaustRequest, OutputFile, Status
from exhaust.requests.outputs import FILES_ON_ITEM, Manifests, listed_on_item

from tests.conftest import call_api, load_event, set_query

REQUESTS = 1000
FILES = 1000
# In AWS each presigned link also carries the signing role's session token: about 1 KB more than moto's.
SESSION_TOKEN_BYTES = 1024


def files_of(request_id: str, count: int = FILES) -> list[OutputFile]:
    return [
        OutputFile(
            name=f"batch-{n:04d}_progress_20261201.zip",
            key=f"requests/channel-a/{request_id}/batch-{n:04d}_progress_20261201.zip",
            rows=1000,
            bytes=250_000,
            sha256="0" * 64,
            batchId=f"batch-{n:04d}",
        )
        for n in range(count)
    ]


@dataclass
class Touched:
    """What the requests table and S3 were asked: items returned, index entries read, calls."""

    items: int = 0
    scanned: int = 0
    calls: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.items = self.scanned = 0
        self.calls = {}


@pytest.fixture(scope="module")
def history() -> Iterator[dict[str, Any]]:
    """1,000 SUCCESS requests of channel-a and tag-1, 1,000 files each; manifests for the newest and oldest."""
    from exhaust.auth.credentials import CredentialStore
    from exhaust.requests.store import RequestStore, to_item

    from tests.conftest import moto_environment

    with moto_environment() as settings:
        store = RequestStore()
        now = int(time.time() * 1000)
        ids: list[str] = []
        for index in range(REQUESTS):
            request_id = f"{index:032X}"
            at = now - (REQUESTS - index) * 1000
            request = ExhaustRequest(
                requestId=request_id,
                channel="channel-a",
                tag="tag-1",
                dataset="progress-exhaust",
                datasetConfig={"batchFilter": [f"batch-{n:04d}" for n in range(3)]},
                requestedBy="user-a",
                status=Status.SUCCESS,
                submittedAt=at,
                updatedAt=at,
                completedAt=at,
                files=listed_on_item(files_of(request_id, FILES_ON_ITEM)),
                filesTotal=FILES,
            )
            store.table.put_item(Item=to_item(request))
            ids.append(request_id)
        manifests = Manifests()
        for request_id in (ids[0], ids[-1]):
            stored = store.get(request_id)
            assert stored is not None
            manifests.write(stored, files_of(request_id))
        token = CredentialStore().create(
            "token", "partner a", channels=["channel-a"], roles=["ORG_ADMIN"], user_id="user-a"
        )[0]
        yield {"settings": settings, "ids": ids, "token": token}


@pytest.fixture
def touched(history: dict[str, Any]) -> Iterator[Touched]:
    from exhaust import aws

    seen = Touched()

    def dynamodb(event_name: str, parsed: dict[str, Any], **_: Any) -> None:
        operation = event_name.rpartition(".")[2]
        seen.calls[operation] = seen.calls.get(operation, 0) + 1
        seen.items += len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0)
        seen.scanned += int(parsed.get("ScannedCount", 0))

    def s3(event_name: str, **_: Any) -> None:
        operation = f"s3.{event_name.rpartition('.')[2]}"
        seen.calls[operation] = seen.calls.get(operation, 0) + 1

    clients = [aws.resource("dynamodb").meta.client, aws.client("dynamodb"), aws.client("s3")]
    for client in clients[:2]:
        client.meta.events.register("after-call.dynamodb", dynamodb)
    clients[2].meta.events.register("after-call.s3", s3)
    yield seen
    for client in clients[:2]:
        client.meta.events.unregister("after-call.dynamodb", dynamodb)
    clients[2].meta.events.unregister("after-call.s3", s3)


def aws_size(body: Any) -> int:
    """The answer's bytes as Lambda returns it, with every link's session token as AWS adds it."""
    text = json.dumps(body)
    return len(text.encode()) + text.count("X-Amz-Signature") * SESSION_TOKEN_BYTES


def list_page(history: dict[str, Any], limit: int) -> tuple[int, dict[str, Any]]:
    event = load_event("list/by_tag")
    event["pathParameters"] = {"tag": "tag-1"}
    event["path"] = "/api/dataset/v1/request/list/tag-1"
    set_query(event, {"limit": str(limit)})
    status, _, body = call_api(event, history["token"])
    return status, body


def read_page(history: dict[str, Any], request_id: str, **query: str) -> tuple[int, dict[str, Any]]:
    event = load_event("read/by_request_id")
    event["pathParameters"] = {"tag": "tag-1"}
    event["path"] = "/api/dataset/v1/request/read/tag-1"
    set_query(event, {"requestId": request_id, **query})
    status, _, body = call_api(event, history["token"])
    return status, body


def test_list_reads_one_page_and_answers_far_below_6_mb(history, touched):
    status, body = list_page(history, 100)
    assert status == 200
    jobs = body["result"]["jobs"]
    assert len(jobs) == 100
    assert body["result"]["nextCursor"]
    for job in jobs:
        assert len(job["files"]) == len(job["downloadUrls"]) == 1
        assert job["filesTotal"] == FILES
        assert "manifest.json" in job["manifestUrl"]
        assert "filesNextCursor" not in job
    assert aws_size(body) < LAMBDA_SYNC_RESPONSE_MAX_BYTES // 10
    assert touched.items <= 100 + 2  # the page, and the caller's credential
    assert touched.calls.get("Query", 0) == 1
    assert not [name for name in touched.calls if name.startswith("s3.")]


def test_search_reads_one_page_and_answers_far_below_6_mb(history, touched):
    from exhaust.requests.service import LINKED_JOBS_PER_PAGE
    from exhaust.requests.store import SEARCH_READ_MAX

    event = load_event("search/seed004_filters")
    event["body"] = json.dumps({"request": {"filters": {"status": "SUCCESS"}, "limit": 1000}})
    status, _, body = call_api(event, history["token"])
    assert status == 200
    assert len(body["result"]["jobs"]) == 1000
    assert body["result"]["count"] == REQUESTS
    jobs = body["result"]["jobs"]
    assert all(job["filesTotal"] == FILES for job in jobs)
    linked, unlinked = jobs[:LINKED_JOBS_PER_PAGE], jobs[LINKED_JOBS_PER_PAGE:]
    assert all(len(job["files"]) == 1 and "manifest.json" in job["manifestUrl"] for job in linked)
    assert all(not job.get("files") and "manifestUrl" not in job for job in unlinked)
    # Issue 13: search with limit 100 answered 12.1 MB. Now 1,000 jobs of 1,000 files answer about 1 MB.
    assert aws_size(body) < LAMBDA_SYNC_RESPONSE_MAX_BYTES // 4
    assert touched.items <= 1000 + 2
    assert touched.scanned <= 2 * SEARCH_READ_MAX
    assert not [name for name in touched.calls if name.startswith("s3.")]
    touched.reset()
    event["body"] = json.dumps({"request": {"filters": {"status": "SUCCESS"}, "limit": 5}})
    status, _, body = call_api(event, history["token"])
    assert status == 200
    assert len(body["result"]["jobs"]) == 5
    # The page costs five items whatever the history; the count reads index entries only.
    assert touched.items <= 5 + 2


def test_read_answers_one_page_of_links_and_the_manifest_and_pages_on(history, touched):
    from exhaust.requests.limits import READ_FILES_MAX_LIMIT

    newest = history["ids"][-1]
    status, body = read_page(history, newest)
    assert status == 200
    first = body["result"]
    assert len(first["files"]) == len(first["downloadUrls"]) == 100
    assert first["filesTotal"] == FILES
    assert "manifest.json" in first["manifestUrl"]
    assert [f["name"] for f in first["files"]] == [f.name for f in files_of(newest)[:100]]
    assert aws_size(body) < LAMBDA_SYNC_RESPONSE_MAX_BYTES // 10
    assert touched.calls.get("s3.GetObject", 0) == 1  # one manifest page
    seen = [f["name"] for f in first["files"]]
    cursor = first["filesNextCursor"]
    pages = 1
    while cursor:
        status, body = read_page(history, newest, limit="300", cursor=cursor)
        assert status == 200
        seen += [f["name"] for f in body["result"]["files"]]
        cursor = body["result"].get("filesNextCursor")
        pages += 1
    assert seen == [f.name for f in files_of(newest)]
    assert pages == 1 + 3  # 100, then 300, 300, 300
    status, body = read_page(history, newest, limit=str(READ_FILES_MAX_LIMIT))
    assert len(body["result"]["files"]) == READ_FILES_MAX_LIMIT
    assert aws_size(body) < LAMBDA_SYNC_RESPONSE_MAX_BYTES // 3
    status, body = read_page(history, newest, limit="500", cursor=body["result"]["filesNextCursor"])
    assert len(body["result"]["files"]) == 500
    assert "filesNextCursor" not in body["result"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJyZXF1ZXN0SWQiOiAiQSIsICJmaWxlIjogMX0="}, "cursor"),  # another request's
    ],
)
def test_read_refuses_a_bad_limit_or_cursor(history, query, field):
    status, body = read_page(history, history["ids"][-1], **query)
    assert status == 400
    assert body["params"]["errmsg"].startswith(f"{field}:")


def test_a_cursor_past_the_last_file_is_refused(history):
    import base64

    newest = history["ids"][-1]
    past = base64.urlsafe_b64encode(json.dumps({"requestId": newest, "file": FILES}).encode()).decode()
    status, body = read_page(history, newest, cursor=past)
    assert status == 400
    assert "filesNextCursor" in body["params"]["errmsg"]


def test_submit_reads_only_its_own_request_and_the_channels_counter(history, touched):
    event = load_event("submit/seed002_batch_filter")
    status, _, body = call_api(event, history["token"], X_Channel_Id="channel-a")
    assert status == 200, body
    assert body["result"]["status"] == "SUBMITTED"
    # No query of the history: a GetItem of its id and the counter's transaction, whatever the channel holds.
    assert touched.calls.get("Query", 0) == 0
    assert touched.calls.get("Scan", 0) == 0
    assert touched.items <= 3
