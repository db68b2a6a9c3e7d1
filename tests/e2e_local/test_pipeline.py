"""Submit -> the local worker builds -> read -> download over HTTP -> decrypt, against `exhaust local`."""

import io
import json
import os
import shutil
import subprocess
import time
import urllib.request

import boto3
import pytest
import pyzipper

from tests.e2e_local.test_request_api import call

KEY = "e2e-Key-0815"


def wait_until_ended(credentials, tag, request_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = call(credentials, "GET", f"/api/dataset/v1/request/read/{tag}?requestId={request_id}")
        assert status == 200, body
        job = body["result"]
        if job["status"] in ("SUCCESS", "FAILED"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"request {request_id} did not end within {timeout}s: {job}")


@pytest.fixture(scope="module")
def built(local_service):
    """A progress-exhaust request of the sample batch, taken to its end by the worker: (job, zip bytes)."""
    credentials = local_service.credentials
    batch_id = credentials["samples"]["progressBatchId"]
    tag = f"e2e-pipeline-{time.time_ns()}"
    submit = {"request": {"tag": tag, "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch_id}}}
    submit["request"]["encryptionKey"] = KEY
    status, body = call(credentials, "POST", "/api/dataset/v1/request/submit", submit)
    assert status == 200, body
    request_id = body["result"]["requestId"]

    job = wait_until_ended(credentials, tag, request_id)
    assert job["status"] == "SUCCESS", job.get("statusMessage")
    assert len(job["downloadUrls"]) == 1

    with urllib.request.urlopen(job["downloadUrls"][0], timeout=30) as answer:
        assert answer.status == 200
        return job, answer.read()


def test_progress_exhaust_is_built_downloaded_and_decrypted(local_service, built):
    credentials = local_service.credentials
    job, data = built
    batch_id = credentials["samples"]["progressBatchId"]
    request_id = job["requestId"]
    assert job["progress"]["batchesTotal"] == job["progress"]["batchesDone"] == 1
    assert job["progress"]["rowsWritten"] > 0
    assert len(job["downloadUrls"]) == 1
    assert job["files"][0]["name"].startswith(f"{batch_id}_progress_")
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        (member,) = archive.namelist()
        assert member.endswith(".csv")
        archive.setpassword(KEY.encode())
        text = archive.read(member).decode("utf-8")
        archive.setpassword(b"not-the-key")
        with pytest.raises(RuntimeError):
            archive.read(member)
    header = text.splitlines()[0]
    assert header.startswith("Collection Id,")
    assert "Batch Id" in header
    assert batch_id in text

    # Nothing unencrypted in S3: every object under requests/ is an AES zip or the manifest (no data in it).
    s3 = boto3.client(
        "s3",
        endpoint_url=credentials["awsEndpoint"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].endswith("-exhaust"))
    prefix = f"requests/{credentials['channel']}/{request_id}/"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="requests/").get("Contents", [])]
    assert f"{prefix}manifest.json" in keys
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".zip"):
            with pyzipper.AESZipFile(io.BytesIO(body)) as archive:
                assert all(info.flag_bits & 0x1 for info in archive.infolist()), f"{key} is not encrypted"
        elif "/manifest/files-" in key:  # the manifest's pages: file names, keys and sizes only
            assert set(json.loads(body)) == {"requestId", "offset", "files"}, key
        else:
            assert key.endswith("/manifest.json"), key
            manifest = json.loads(body)
            assert set(manifest) >= {"files", "totalRows"}


@pytest.mark.skipif(
    not (shutil.which("7z") or shutil.which("7zz")) and not os.environ.get("CI"),
    reason="7-Zip is not installed: make sevenzip (CI installs it and runs this)",
)
def test_the_zip_opens_with_7zip_and_the_key_only(built, tmp_path):
    _, data = built
    archive = tmp_path / "download.zip"
    archive.write_bytes(data)
    seven = shutil.which("7z") or shutil.which("7zz") or ""
    good = subprocess.run([seven, "t", f"-p{KEY}", str(archive)], capture_output=True, check=False)
    assert good.returncode == 0, good.stdout
    bad = subprocess.run([seven, "t", "-pnot-the-key", str(archive)], capture_output=True, check=False)
    assert bad.returncode != 0
