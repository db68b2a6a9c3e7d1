"""Issue 16 in local mode over real HTTP: org-pii-exhaust, expired batches, the registration-consent rule."""

import csv
import io
import time
import urllib.request

import pyzipper

from tests.e2e_local.test_pipeline import wait_until_ended
from tests.e2e_local.test_request_api import call

KEY = "e2e-Key-0816"


def submit_and_wait(credentials, dataset, config):
    tag = f"e2e-seeds-{dataset}-{time.time_ns()}"
    body = {"request": {"tag": tag, "dataset": dataset, "datasetConfig": config, "encryptionKey": KEY}}
    status, answer = call(credentials, "POST", "/api/dataset/v1/request/submit", body)
    assert status == 200, answer
    return wait_until_ended(credentials, tag, answer["result"]["requestId"])


def rows_of(job):
    with urllib.request.urlopen(job["downloadUrls"][0], timeout=30) as answer:
        data = answer.read()
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        archive.setpassword(KEY.encode())
        (member,) = archive.namelist()
        return list(csv.reader(io.StringIO(archive.read(member).decode("utf-8"), newline="")))


def test_the_sample_token_gets_its_orgs_consenting_users(local_service):
    credentials = local_service.credentials
    job = submit_and_wait(credentials, "org-pii-exhaust", {})
    assert job["status"] == "SUCCESS", job.get("statusMessage")
    assert job["files"][0]["name"].startswith(f"{credentials['channel']}_org-pii_")
    header, *rows = rows_of(job)
    assert header[11:13] == ["Org Phone", "Org Email ID"]
    assert rows
    assert any(row[11] for row in rows)
    assert any(not row[11] for row in rows)  # the org phone is optional


def test_the_sample_expired_batch_fails_with_the_seeds_message(local_service):
    credentials = local_service.credentials
    job = submit_and_wait(credentials, "progress-exhaust", {"batchId": credentials["samples"]["expiredBatchId"]})
    assert job["status"] == "FAILED"
    assert job["statusMessage"] == "Requested batch not found/Batch has expired"


def test_free_text_answers_are_shared_only_with_registration_consent(local_service):
    credentials = local_service.credentials
    job = submit_and_wait(credentials, "response-exhaust", {"batchId": credentials["samples"]["responseBatchId"]})
    assert job["status"] == "SUCCESS", job.get("statusMessage")
    header, *rows = rows_of(job)
    kind, response = header.index("Question Type"), header.index("Question Response")
    free_text = [row[response] for row in rows if row[kind] == "ftb"]
    assert any(free_text)
    assert "" in free_text
    assert all(row[response] for row in rows if row[kind] != "ftb")


def test_the_client_submits_org_pii_without_a_batch_and_refuses_a_batch_dataset_without_one(local_service, capsys):
    from exhaust_devkit.cli import main

    common = ["client", "submit", "--local-credentials", str(local_service.credentials_file), "--encryption-key", KEY]
    status = main([*common, "--dataset", "org-pii-exhaust", "--tag", "client-org", "--wait", "--interval", "0.5"])
    assert status == 0, capsys.readouterr().err
    status = main([*common, "--dataset", "progress-exhaust", "--tag", "client-no-batch"])
    assert status == 1
    assert "request.datasetConfig: datasetConfig is empty" in capsys.readouterr().err
