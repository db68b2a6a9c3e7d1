"""Submit, read, list and search on moto, through the authorizer and the handlers."""

import json

import pytest

from tests.conftest import call_api, load_event, set_query, stored_request

TEST_KEY = "test-key-12345"


def submit(tokens, body_request=None, token="channel_a", with_key=True, **headers):
    event = load_event("submit/seed002_batch_filter")
    if body_request is not None:
        if with_key:
            body_request = {"encryptionKey": TEST_KEY, **body_request}
        event["body"] = json.dumps({"params": {"msgid": "m-1"}, "request": body_request})
    return call_api(event, tokens[token], **headers)


def read(tokens, tag, request_id, token="channel_a"):
    event = load_event("read/by_request_id")
    event["pathParameters"] = {"tag": tag}
    event["path"] = f"/api/dataset/v1/request/read/{tag}"
    set_query(event, {"requestId": request_id} if request_id else None)
    return call_api(event, tokens[token])


def queued_messages(settings):
    from exhaust import aws

    answer = aws.client("sqs").receive_message(QueueUrl=settings.queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_seed_002_sample_submit_succeeds_unchanged(tokens, aws_resources):
    status, _, body = submit(tokens)
    assert status == 200
    assert body["id"] == "ekstep.analytics.dataset.request.submit"
    assert body["params"]["msgid"] == "4f04da60-1e24-4d31-aa7b-1daf91c46341"
    result = body["result"]
    assert result["status"] == "SUBMITTED"
    assert result["tag"] == "0131091142547947521011112020"
    assert result["requestedChannel"] == "channel-a"
    assert result["requestedBy"] == "user-a"
    assert result["datasetConfig"] == {"batchFilter": ["01310911425479475210", "batch2", "batch3"]}
    assert len(result["requestId"]) == 32
    assert "encryptionKey" not in json.dumps(body)
    assert "expiresAt" not in result
    assert queued_messages(aws_resources) == [{"requestId": result["requestId"], "attempt": 0}]


def test_seed_002_search_filter_sample_succeeds(tokens):
    status, _, body = call_api(load_event("submit/seed002_search_filter"), tokens["channel_a"])
    assert status == 200
    assert body["result"]["datasetConfig"]["searchFilter"]["request"]["filters"]["contentType"] == "Course"


def test_same_request_same_day_is_the_same_request_and_a_different_config_is_another(tokens, aws_resources):
    first = submit(tokens)[2]["result"]["requestId"]
    again = submit(tokens)[2]["result"]["requestId"]
    assert first == again
    other = submit(
        tokens,
        {"tag": "0131091142547947521011112020", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b9"}},
    )[2]["result"]["requestId"]
    assert other != first
    assert len(queued_messages(aws_resources)) == 2


def test_the_byte_order_mark_is_an_opt_in_kept_with_the_request(tokens):
    request = {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b1", "csvBom": True}}
    assert submit(tokens, request)[2]["result"]["datasetConfig"] == {"batchId": "b1", "csvBom": True}


def test_batch_filter_is_deduplicated(tokens):
    request = {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchFilter": ["b1", "b2", "b1"]}}
    assert submit(tokens, request)[2]["result"]["datasetConfig"]["batchFilter"] == ["b1", "b2"]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}}, "request.tag: tag is empty"),
        ({"tag": "t", "datasetConfig": {"batchId": "b"}}, "request.dataset: dataset is empty"),
        ({"tag": "t", "dataset": "progress-exhaust"}, "request.datasetConfig: datasetConfig is empty"),
        ({"tag": "t", "dataset": "nope", "datasetConfig": {"batchId": "b"}}, "request.dataset: unknown dataset 'nope'"),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchFilter": "b1"}},
            "request.datasetConfig.batchFilter: must be an array of batch ids",
        ),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": ["b1"]}},
            "request.datasetConfig.batchId: must be a batch id string",
        ),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b", "csvBom": "yes"}},
            "request.datasetConfig.csvBom: must be true or false",
        ),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b", "batchFilter": ["c"]}},
            "request.datasetConfig: must have exactly one of batchId, batchFilter or searchFilter",
        ),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"other": 1}},
            "request.datasetConfig: must have exactly one of",
        ),
        (
            {
                "tag": "t",
                "dataset": "progress-exhaust",
                "datasetConfig": {
                    "searchFilter": {"request": {"filters": {"contentType": "Course", "channel": "c"}, "limit": 50}}
                },
            },
            "request.datasetConfig.searchFilter.request.limit: must be an integer from 1 to 49",
        ),
        (
            {
                "tag": "t",
                "dataset": "progress-exhaust",
                "datasetConfig": {"searchFilter": {"request": {"filters": {"contentType": "Book", "channel": "c"}}}},
            },
            'request.datasetConfig.searchFilter.request.filters.contentType: must be "Course"',
        ),
        (
            {"tag": "t", "dataset": "userinfo-exhaust", "datasetConfig": {"batchId": "b"}},
            "request.encryptionKey: is required for userinfo-exhaust",
        ),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}},
            "request.encryptionKey: is required for progress-exhaust",
        ),
        (
            {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}, "encryptionKey": "short"},
            "request.encryptionKey: must be at least 8 characters",
        ),
        (
            {"tag": "t", "dataset": "summary-rollup", "datasetConfig": {"batchId": "b"}},
            "request.dataset: summary-rollup is a standard dataset",
        ),
        (
            {
                "tag": "t",
                "dataset": "progress-exhaust",
                "datasetConfig": {"batchId": "b"},
                "callbackUrl": "http://insecure.example.com/hook",
            },
            "request.callbackUrl: must be an https:// URL",
        ),
    ],
)
def test_invalid_submits_are_400s_naming_field_and_rule(tokens, aws_resources, request_body, message):
    status, _, body = submit(tokens, request_body, with_key=False)
    assert status == 400
    assert body["responseCode"] == "CLIENT_ERROR"
    assert body["params"]["errmsg"].startswith(message)
    assert "result" not in body
    assert queued_messages(aws_resources) == []


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        ("{not json", 400, "malformed JSON"),
        ('["a"]', 400, "must be a JSON object"),
        ('{"request": "x"}', 400, "request: must be an object"),
        ("", 400, "empty body"),
        ('{"request": {"tag": "' + "x" * 300_000 + '"}}', 413, "at most 262144 bytes"),
    ],
)
def test_malformed_and_huge_bodies_get_clear_errors(tokens, raw, status, fragment):
    event = load_event("submit/seed002_batch_filter")
    event["body"] = raw
    got, _, body = call_api(event, tokens["channel_a"])
    assert got == status
    assert fragment in body["params"]["errmsg"]


def test_non_utf8_body_is_a_400(tokens):
    import base64

    event = load_event("submit/seed002_batch_filter")
    event["body"] = base64.b64encode(b'{"request": "\xff\xfe"}').decode()
    event["isBase64Encoded"] = True
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 400
    assert "UTF-8" in body["params"]["errmsg"]


def test_dataset_json_schema_is_enforced(tokens):
    event = load_event("dataset_add/new_dataset")
    assert call_api(event, tokens["admin"])[0] == 200
    request = {"tag": "t", "dataset": "course-certificates", "datasetConfig": {"batchId": "b"}}
    assert submit(tokens, request)[0] == 200
    request["datasetConfig"] = {"batchId": "b", "extra": 5}
    assert submit(tokens, request)[0] == 200
    schema_event = load_event("dataset_add/new_dataset")
    body = json.loads(schema_event["body"])
    body["request"]["validationJson"] = {
        "type": "object",
        "properties": {"batchId": {"type": "string", "pattern": "^[0-9]+$"}},
    }
    schema_event["body"] = json.dumps(body)
    assert call_api(schema_event, tokens["admin"])[0] == 200
    request["datasetConfig"] = {"batchId": "abc"}
    status, _, answer = submit(tokens, request)
    assert status == 400
    assert answer["params"]["errmsg"].startswith("request.datasetConfig.batchId:")


def test_read_answers_the_job_status_response_and_404_for_unknown(tokens):
    result = submit(tokens)[2]["result"]
    status, _, body = read(tokens, result["tag"], result["requestId"])
    assert status == 200
    assert body["id"] == "ekstep.analytics.dataset.request.info"
    job = body["result"]
    for field in (
        "requestId",
        "tag",
        "dataset",
        "datasetConfig",
        "requestedBy",
        "requestedChannel",
        "status",
        "attempts",
        "lastUpdated",
        "jobStats",
        "downloadUrls",
        "progress",
    ):
        assert field in job
    assert job["jobStats"]["dtJobSubmitted"] == job["lastUpdated"]
    assert job["progress"] == {"batchesTotal": 0, "batchesDone": 0, "rowsWritten": 0, "bytesWritten": 0}
    assert "expiresAt" not in job

    status, _, body = read(tokens, result["tag"], "0" * 32)
    assert status == 404
    assert body["responseCode"] == "RESOURCE_NOT_FOUND"
    status, _, body = read(tokens, "other-tag", result["requestId"])
    assert status == 404
    status, _, body = read(tokens, result["tag"], None)
    assert status == 400
    assert "requestId" in body["params"]["errmsg"]


def test_read_of_a_successful_request_signs_fresh_links(tokens, aws_resources):
    from exhaust.requests.models import OutputFile, Status
    from exhaust.requests.store import RequestStore

    result = submit(tokens)[2]["result"]
    store = RequestStore()
    stored = stored_request(result["requestId"])
    done = stored.model_copy(
        update={
            "status": Status.SUCCESS,
            "completedAt": stored.submittedAt + 5000,
            "executionTimeMs": 4000,
            "files": [
                OutputFile(
                    name="b1_progress_20260101.zip",
                    key="requests/channel-a/x/b1.zip",
                    rows=3,
                    bytes=120,
                    sha256="ab" * 32,
                    batchId="b1",
                )
            ],
        }
    )
    store.replace(done, stored.version)
    _status, _, body = read(tokens, result["tag"], result["requestId"])
    job = body["result"]
    assert job["status"] == "SUCCESS"
    assert len(job["downloadUrls"]) == 1
    assert "X-Amz-Signature" in job["downloadUrls"][0] or "Signature" in job["downloadUrls"][0]
    assert job["expiresAt"] > job["lastUpdated"]
    assert job["files"][0]["rows"] == 3
    assert job["jobStats"]["executionTime"] == 4000


def test_resubmit_of_failed_request_starts_afresh(tokens, aws_resources):
    from exhaust.requests.models import Status
    from exhaust.requests.store import RequestStore

    result = submit(tokens)[2]["result"]
    store = RequestStore()
    stored = stored_request(result["requestId"])
    store.replace(
        stored.model_copy(
            update={
                "status": Status.FAILED,
                "statusMessage": "No data found",
                "attempts": 3,
                "completedAt": stored.submittedAt + 1,
            }
        ),
        stored.version,
    )
    queued_messages(aws_resources)
    _status, _, body = submit(tokens)
    job = body["result"]
    assert job["status"] == "SUBMITTED"
    assert job["attempts"] == 0
    assert "statusMessage" not in job
    assert job["jobStats"].get("dtJobCompleted") is None


def test_list_is_newest_first_with_paging(tokens):
    ids = []
    for batch in ("b1", "b2", "b3"):
        ids.append(
            submit(tokens, {"tag": "tag-x", "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch}})[2][
                "result"
            ]["requestId"]
        )
    event = load_event("list/by_tag")
    event["pathParameters"] = {"tag": "tag-x"}
    event["path"] = "/api/dataset/v1/request/list/tag-x"
    set_query(event, {"limit": "2"})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 200
    assert body["result"]["count"] == 2
    first_page = [job["requestId"] for job in body["result"]["jobs"]]
    assert first_page == [ids[2], ids[1]]
    set_query(event, {"limit": "2", "cursor": body["result"]["nextCursor"]})
    body = call_api(event, tokens["channel_a"])[2]
    assert [job["requestId"] for job in body["result"]["jobs"]] == [ids[0]]
    set_query(event, {"limit": "500"})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 400
    assert "limit" in body["params"]["errmsg"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({}, "Filters are empty"),
        ({"colour": "red"}, "Unsupported filters"),
        ({"requestedDate": "2021-13-01"}, "request.filters.requestedDate"),
        ({"status": "DONE"}, "request.filters.status"),
    ],
)
def test_search_rejects_bad_filters(tokens, filters, message):
    event = load_event("search/seed004_filters")
    event["body"] = json.dumps({"request": {"filters": filters}})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 400
    assert body["params"]["errmsg"].startswith(message)


def test_search_counts_all_matches_and_limits_jobs(tokens):
    for batch in ("b1", "b2", "b3"):
        submit(tokens, {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch}})
    submit(tokens, {"tag": "t", "dataset": "response-exhaust", "datasetConfig": {"batchId": "b1"}})
    event = load_event("search/seed004_filters")
    event["body"] = json.dumps(
        {"request": {"filters": {"dataset": "progress-exhaust", "status": "SUBMITTED"}, "limit": 2}}
    )
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 200
    assert body["id"] == "ekstep.analytics.dataset.request.search"
    assert body["result"]["count"] == 3
    assert len(body["result"]["jobs"]) == 2
    stamps = [job["jobStats"]["dtJobSubmitted"] for job in body["result"]["jobs"]]
    assert stamps == sorted(stamps, reverse=True)


def test_idempotency_key_replays_and_conflicts(tokens, aws_resources):
    status, _, first = submit(tokens, Idempotency_Key="key-1")
    assert status == 200
    status, _, again = submit(tokens, Idempotency_Key="key-1")
    assert again["result"]["requestId"] == first["result"]["requestId"]
    other = {"tag": "t2", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}}
    status, _, body = submit(tokens, other, Idempotency_Key="key-1")
    assert status == 409
    assert "Idempotency-Key" in body["params"]["errmsg"]


def test_too_many_open_requests_is_a_429_with_retry_after(tokens, aws_resources, monkeypatch):
    from exhaust.api import requests as api
    from exhaust.settings import get_settings

    monkeypatch.setenv("EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL", "2")
    get_settings.cache_clear()
    api.service.cache_clear()
    for batch in ("b1", "b2"):
        assert (
            submit(tokens, {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch}})[0] == 200
        )
    status, headers, _body = submit(
        tokens, {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b3"}}
    )
    assert status == 429
    assert headers["Retry-After"] == "60"
    api.service.cache_clear()


def test_on_behalf_header_is_honoured_only_for_on_behalf_principals(tokens):
    request = {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}}
    body = submit(tokens, request, token="on_behalf", X_Authenticated_Userid="teacher-7")[2]
    assert body["result"]["requestedBy"] == "teacher-7"
    body = submit(tokens, request, token="channel_a", X_Authenticated_Userid="someone-else")[2]
    assert body["result"]["requestedBy"] == "user-a"


def test_encryption_key_is_stored_only_encrypted(tokens, aws_resources):
    from exhaust import aws

    submit(tokens)
    items = aws.client("dynamodb").scan(TableName=aws_resources.requests_table)["Items"]
    assert "uKW)Afn9D5" not in json.dumps(items)
    # The table also holds the channel's open-request counter (docs/dynamodb.md); every request item is encrypted.
    requests = [item for item in items if "tagKey" in item]
    assert len(requests) == 1
    assert all("encryptedKey" in item for item in requests)


def test_read_of_an_expired_request_says_so_instead_of_handing_out_dead_links(tokens, aws_resources):
    from exhaust.requests.models import OutputFile, Status
    from exhaust.requests.store import RequestStore

    result = submit(tokens)[2]["result"]
    store = RequestStore()
    stored = stored_request(result["requestId"])
    long_ago = stored.submittedAt - 31 * 86_400_000  # retention is 30 days by default
    store.replace(
        stored.model_copy(
            update={
                "status": Status.SUCCESS,
                "completedAt": long_ago,
                "files": [OutputFile(name="b_progress.zip", key="requests/x/b.zip", rows=1, bytes=1, sha256="0" * 64)],
            }
        ),
        stored.version,
    )
    job = read(tokens, result["tag"], result["requestId"])[2]["result"]
    assert job["status"] == "SUCCESS"
    assert job["downloadUrls"] == []
    assert "expiresAt" not in job
    assert "expired on" in job["statusMessage"]
    assert "submit it again" in job["statusMessage"]
