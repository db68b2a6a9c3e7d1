"""Cancel, delete and data readiness over real HTTP against `exhaust local`, as a partner calls them (issue 17)."""

import datetime as dt
import json
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e_local.test_pipeline import wait_until_ended
from tests.e2e_local.test_request_api import call

KEY = "e2e-Key-0815"
TODAY_MIDNIGHT = dt.datetime.now(dt.UTC).date().isoformat() + "T00:00:00Z"


def submit(credentials, tag, batch_ids):
    body = {
        "request": {
            "tag": tag,
            "dataset": "progress-exhaust",
            "datasetConfig": {"batchFilter": batch_ids},
            "encryptionKey": KEY,
        }
    }
    status, answer = call(credentials, "POST", "/api/dataset/v1/request/submit", body)
    assert status == 200, answer
    return answer["result"]


def operate(credentials, operation, tag, request_id):
    return call(credentials, "POST", f"/api/dataset/v1/request/{operation}/{tag}?requestId={request_id}")


def read(credentials, tag, request_id):
    status, body = call(credentials, "GET", f"/api/dataset/v1/request/read/{tag}?requestId={request_id}")
    assert status == 200, body
    return body["result"]


def sample_batches(credentials):
    samples = credentials["samples"]
    return sorted({samples["progressBatchId"], samples["userinfoBatchId"], samples["responseBatchId"]})


@pytest.fixture(scope="module")
def cancelled(local_service):
    """A request cancelled right after its submit, before the worker finished it (tried again if it was quicker)."""
    credentials = local_service.credentials
    for attempt in range(3):
        tag = f"e2e-cancel-{time.time_ns()}"
        job = submit(credentials, tag, sample_batches(credentials))
        status, body = operate(credentials, "cancel", tag, job["requestId"])
        if status == 200:
            return tag, body["result"]
        # The worker was quicker: a finished request cannot be cancelled, and says so.
        assert status == 409, body
        assert "only SUBMITTED or PROCESSING requests can be cancelled" in body["params"]["errmsg"]
    raise AssertionError(f"the worker finished every request before its cancel arrived ({attempt + 1} tries)")


def test_a_cancelled_request_stays_cancelled_on_read_list_and_search(local_service, cancelled):
    credentials = local_service.credentials
    tag, job = cancelled
    assert job["status"] == "CANCELLED"
    assert job["files"] == []
    # Whatever the worker was doing, it ends without turning the request back: wait past a build of these batches.
    time.sleep(3)
    later = read(credentials, tag, job["requestId"])
    assert later["status"] == "CANCELLED"
    assert later["files"] == []
    assert later["downloadUrls"] == []
    status, body = call(credentials, "GET", f"/api/dataset/v1/request/list/{tag}")
    assert status == 200
    assert [(j["requestId"], j["status"]) for j in body["result"]["jobs"]] == [(job["requestId"], "CANCELLED")]
    search = {"request": {"filters": {"status": "CANCELLED"}, "limit": 1000}}
    status, body = call(credentials, "POST", "/api/dataset/v1/request/search", search)
    assert status == 200
    assert job["requestId"] in [found["requestId"] for found in body["result"]["jobs"]]
    # Idempotent.
    status, body = operate(credentials, "cancel", tag, job["requestId"])
    assert status == 200
    assert body["result"]["status"] == "CANCELLED"


def test_a_cancelled_request_submitted_again_is_built_afresh(local_service, cancelled):
    credentials = local_service.credentials
    tag, job = cancelled
    again = submit(credentials, tag, sample_batches(credentials))
    assert again["requestId"] == job["requestId"]
    assert again["status"] in ("SUBMITTED", "PROCESSING", "SUCCESS")
    done = wait_until_ended(credentials, tag, job["requestId"])
    assert done["status"] == "SUCCESS", done.get("statusMessage")
    assert len(done["files"]) == len(sample_batches(credentials))


def test_delete_removes_the_files_at_once_and_old_links_stop_working(local_service):
    credentials = local_service.credentials
    tag = f"e2e-delete-{time.time_ns()}"
    job = submit(credentials, tag, [credentials["samples"]["progressBatchId"]])
    status, body = operate(credentials, "delete", tag, job["requestId"])
    if job["status"] != "SUCCESS":
        assert status in (409, 200)  # open: "cancel it first"; the worker may have finished meanwhile
        if status == 409:
            assert "cancel it first" in body["params"]["errmsg"]
    built = wait_until_ended(credentials, tag, job["requestId"])
    assert built["status"] == "SUCCESS", built.get("statusMessage")
    link = built["downloadUrls"][0]
    with urllib.request.urlopen(link, timeout=30) as answer:
        assert answer.status == 200
    assert built["dataAvailableUntil"] == TODAY_MIDNIGHT

    status, body = operate(credentials, "delete", tag, job["requestId"])
    assert status == 200, body
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(link, timeout=30)
    # S3 answers 403 for a missing key to a signer that may not list the prefix (as the read function's role may
    # not), 404 to one that may.
    assert gone.value.code in (403, 404)
    deleted = read(credentials, tag, job["requestId"])
    assert deleted["status"] == "SUCCESS"
    assert deleted["files"] == []
    assert deleted["downloadUrls"] == []
    assert deleted["statusMessage"].startswith("The files of this request were deleted on ")
    status, body = operate(credentials, "delete", tag, job["requestId"])
    assert status == 200
    assert body["result"]["statusMessage"] == deleted["statusMessage"]
    status, body = operate(credentials, "cancel", tag, job["requestId"])
    assert status == 409


def test_datasets_say_up_to_when_the_local_lake_is_complete(local_service):
    credentials = local_service.credentials
    status, body = call(credentials, "GET", "/api/dataset/v1/list")
    assert status == 200
    assert {dataset.get("dataAvailableUntil") for dataset in body["result"]["datasets"]} == {TODAY_MIDNIGHT}
    status, body = call(credentials, "GET", "/api/data/v3/dataset/get/summary-rollup")
    assert status == 200, body
    assert body["result"]["dataAvailableUntil"] == TODAY_MIDNIGHT


def test_exhaust_client_cancel_and_delete(local_service, capsys):
    from exhaust_devkit.cli import main

    credentials = local_service.credentials
    tag = f"e2e-client-lifecycle-{time.time_ns()}"
    job = submit(credentials, tag, [credentials["samples"]["progressBatchId"]])
    common = ["--local-credentials", str(local_service.credentials_file), "--tag", tag, "--request-id"]
    done = wait_until_ended(credentials, tag, job["requestId"])
    assert done["status"] == "SUCCESS"

    assert main(["client", "cancel", *common, job["requestId"]]) == 1
    assert "cancel refused: HTTP 409" in capsys.readouterr().err
    assert main(["client", "delete", "--json", *common, job["requestId"]]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "SUCCESS"
    assert printed["statusMessage"].startswith("The files of this request were deleted on ")
    assert main(["client", "delete", *common, "NOSUCHREQUEST"]) == 1
    assert "delete refused: HTTP 404" in capsys.readouterr().err
