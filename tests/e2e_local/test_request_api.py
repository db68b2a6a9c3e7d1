"""The request API over real HTTP against local mode, as a partner would call it (seed 002's curls)."""

import json
import urllib.error
import urllib.request

from tests.conftest import LocalServiceProcess

SEED_002_SUBMIT = {
    "request": {
        "tag": "0131091142547947521011112020",
        "dataset": "progress-exhaust",
        "datasetConfig": {"batchFilter": ["01310911425479475210", "batch2", "batch3"]},
        "encryptionKey": "uKW)Afn9D5",
    }
}


def call(credentials, method, path, body=None, token="token", headers=None):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(credentials["baseUrl"] + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {credentials[token]}")
    request.add_header("X-Channel-Id", credentials["channel"])
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, parsed(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, parsed(error.read())


def parsed(raw: bytes):
    """JSON answers parsed; files (the legacy API's zips) as they came."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def test_seed_002_submit_then_read_then_list(local_service):
    credentials = local_service.credentials
    status, body = call(credentials, "POST", "/api/dataset/v1/request/submit", SEED_002_SUBMIT)
    assert status == 200, body
    job = body["result"]
    assert job["status"] in ("SUBMITTED", "PROCESSING", "SUCCESS", "FAILED")
    status, body = call(credentials, "GET", f"/api/dataset/v1/request/read/{job['tag']}?requestId={job['requestId']}")
    assert status == 200
    assert body["result"]["requestId"] == job["requestId"]
    status, body = call(credentials, "GET", f"/api/dataset/v1/request/list/{job['tag']}")
    assert status == 200
    assert job["requestId"] in [listed["requestId"] for listed in body["result"]["jobs"]]


def test_errors_over_http_are_envelopes_not_traces(local_service):
    credentials = local_service.credentials
    status, body = call(credentials, "POST", "/api/dataset/v1/request/submit", b"{broken", token="token")
    assert status == 400
    assert "malformed JSON" in body["params"]["errmsg"]
    status, body = call(credentials, "POST", "/api/dataset/v1/request/submit", SEED_002_SUBMIT, token=None)
    assert status == 401
    assert body["params"]["status"] == "failed"
    status, body = call(credentials, "GET", "/api/dataset/v1/request/read/tag?requestId=NOPE")
    assert status == 404


def test_no_secret_reaches_the_logs_of_a_full_run(tmp_path):
    service = LocalServiceProcess(tmp_path)
    credentials = service.start()
    try:
        call(credentials, "POST", "/api/dataset/v1/request/submit", SEED_002_SUBMIT)
        userinfo = {
            "request": {
                "tag": "secrets-check",
                "dataset": "userinfo-exhaust",
                "datasetConfig": {"batchId": credentials["samples"].get("userinfoBatchId", "b1")},
                "encryptionKey": "s3cret-userinfo-key",
            }
        }
        call(credentials, "POST", "/api/dataset/v1/request/submit", userinfo)
        call(credentials, "POST", "/api/dataset/v1/request/submit", SEED_002_SUBMIT, token="adminToken")
        call(credentials, "GET", "/api/dataset/v1/request/list/x", headers={"Authorization": "Bearer exh_wrong"})
        legacy = credentials["samples"]
        call(
            credentials,
            "POST",
            f"/v1/datasets/{legacy['legacyDatasetId']}/{legacy['resourceId']}",
            {"request": {"licensekey": legacy["licenseKey"]}},
            token=None,
        )
    finally:
        service.stop()
    logs = "".join(service.output)
    assert "request submitted" in logs  # the run did log: the check below is not vacuous
    secrets = [
        credentials["token"],
        credentials["adminToken"],
        credentials["samples"]["licenseKey"],
        "uKW)Afn9D5",
        "s3cret-userinfo-key",
    ]
    for secret in secrets:
        assert secret not in logs


def test_idempotency_size_limit_and_paging_over_http(local_service):
    credentials = local_service.credentials
    first = {"request": {**SEED_002_SUBMIT["request"], "tag": "http-idempotency"}}
    status, _ = call(credentials, "POST", "/api/dataset/v1/request/submit", first, headers={"Idempotency-Key": "k1"})
    assert status == 200
    other = {"request": {**first["request"], "datasetConfig": {"batchId": "another"}}}
    status, body = call(credentials, "POST", "/api/dataset/v1/request/submit", other, headers={"Idempotency-Key": "k1"})
    assert status == 409
    assert "Idempotency-Key" in body["params"]["errmsg"]

    huge = json.dumps({"request": {"tag": "x" * 300_000}}).encode()
    status, body = call(credentials, "POST", "/api/dataset/v1/request/submit", huge)
    assert status == 413

    for batch in ("p1", "p2", "p3"):
        request = {"request": {**first["request"], "tag": "http-paging", "datasetConfig": {"batchId": batch}}}
        assert call(credentials, "POST", "/api/dataset/v1/request/submit", request)[0] == 200
    status, page = call(credentials, "GET", "/api/dataset/v1/request/list/http-paging?limit=2")
    assert status == 200
    assert page["result"]["count"] == 2
    cursor = page["result"]["nextCursor"]
    status, rest = call(credentials, "GET", f"/api/dataset/v1/request/list/http-paging?limit=2&cursor={cursor}")
    assert status == 200
    seen = [job["requestId"] for job in page["result"]["jobs"] + rest["result"]["jobs"]]
    assert len(set(seen)) == 3
