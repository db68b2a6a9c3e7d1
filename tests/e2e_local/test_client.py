"""`exhaust client`: submit, wait and download against local mode, with resumed and verified downloads."""

import hashlib
import json

import pytest
import pyzipper
from exhaust_client.client import ClientError, ExhaustClient
from exhaust_devkit.cli import main

from tests.conftest import run_exhaust

KEY = "client-test-key-123"


def client_for(credentials):
    return ExhaustClient(credentials["baseUrl"], credentials["token"], credentials["channel"], say=lambda _: None)


def test_submit_wait_and_download_verified_files(local_service, tmp_path, capsys):
    credentials_file = str(local_service.credentials_file)
    batch = local_service.credentials["samples"]["progressBatchId"]
    out = tmp_path / "files"
    status = main(
        [
            "client",
            "submit",
            "--json",
            "--local-credentials",
            credentials_file,
            "--dataset",
            "progress-exhaust",
            "--tag",
            "client-e2e",
            "--batch-id",
            batch,
            "--encryption-key",
            KEY,
            "--wait",
            "--interval",
            "0.5",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    submitted = json.loads(capsys.readouterr().out.splitlines()[0])
    zips = sorted(out.glob("*.zip"))
    assert len(zips) == 1
    assert zips[0].name.startswith(f"{batch}_progress_")
    with pyzipper.AESZipFile(zips[0]) as archive:
        archive.setpassword(KEY.encode())
        assert archive.read(archive.namelist()[0]).startswith(b"Collection Id,")

    # An interrupted download resumes from its .part file and is verified.
    client = client_for(local_service.credentials)
    result = client.read("client-e2e", submitted["requestId"])
    whole = zips[0].read_bytes()
    zips[0].unlink()
    (out / (zips[0].name + ".part")).write_bytes(whole[: len(whole) // 2])
    (path,) = client.download(result, out)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == result["files"][0]["sha256"]
    assert not (out / (zips[0].name + ".part")).exists()


def test_a_corrupted_partial_download_is_refused_and_removed(local_service, tmp_path):
    client = client_for(local_service.credentials)
    batch = local_service.credentials["samples"]["progressBatchId"]
    submitted = client.submit(
        {
            "tag": "client-corrupt",
            "dataset": "progress-exhaust",
            "datasetConfig": {"batchId": batch},
            "encryptionKey": KEY,
        }
    )
    result = client.wait("client-corrupt", submitted["requestId"], interval_seconds=0.5, timeout_seconds=60)
    name = result["files"][0]["name"]
    (tmp_path / (name + ".part")).write_bytes(b"garbage that is not the start of the file")
    with pytest.raises(ClientError, match="checksum mismatch"):
        client.download(result, tmp_path)
    assert not (tmp_path / (name + ".part")).exists()
    assert client.download(result, tmp_path)[0].name == name


def test_refusals_are_reported_with_the_service_message(local_service, capsys):
    status = main(
        [
            "client",
            "submit",
            "--local-credentials",
            str(local_service.credentials_file),
            "--dataset",
            "nope",
            "--tag",
            "t",
            "--batch-id",
            "b",
            "--encryption-key",
            KEY,
        ]
    )
    assert status == 1
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_legacy_and_export_downloads_and_their_errors(local_service, tmp_path, capsys):
    samples = local_service.credentials["samples"]
    credentials_file = str(local_service.credentials_file)
    legacy_zip = tmp_path / "days.zip"
    assert (
        main(
            [
                "client",
                "legacy",
                "--local-credentials",
                credentials_file,
                "--dataset",
                samples["legacyDatasetId"],
                "--resource-id",
                samples["resourceId"],
                "--license-key",
                samples["licenseKey"],
                "--out",
                str(legacy_zip),
            ]
        )
        == 0
    )
    import zipfile

    with zipfile.ZipFile(legacy_zip) as archive:
        assert "manifest.json" in archive.namelist()
    assert (
        main(
            [
                "client",
                "legacy",
                "--local-credentials",
                credentials_file,
                "--dataset",
                samples["legacyDatasetId"],
                "--resource-id",
                samples["resourceId"],
                "--license-key",
                "lic_wrong",
                "--out",
                str(tmp_path / "nope.zip"),
            ]
        )
        == 1
    )
    assert "LOGIN_FAILED" in capsys.readouterr().err

    assert (
        main(
            [
                "client",
                "export",
                "--local-credentials",
                credentials_file,
                "--format",
                "json",
                "--units",
                "no-such-unit",
                "--out",
                str(tmp_path / "typo.zip"),
            ]
        )
        == 1
    )
    # Issue 28: a unit no observation has (a typo) said "no rows match" and exited 0; the units that exist are named.
    assert "units: no observation has 'no-such-unit'; existing values: celsius" in capsys.readouterr().err
    assert not (tmp_path / "typo.zip").exists()
    assert (
        main(
            [
                "client",
                "export",
                "--local-credentials",
                credentials_file,
                "--format",
                "json",
                "--units",
                "celsius",
                "--date-from",
                "2099-01-01",
                "--out",
                str(tmp_path / "empty.zip"),
            ]
        )
        == 0
    )
    assert "no rows" in capsys.readouterr().err
    assert not (tmp_path / "empty.zip").exists()
    assert (
        main(
            [
                "client",
                "export",
                "--local-credentials",
                credentials_file,
                "--format",
                "yaml",
                "--out",
                str(tmp_path / "bad.zip"),
            ]
        )
        == 1
    )
    assert "yaml" in capsys.readouterr().err.lower()


def test_read_list_and_search_as_a_person_and_as_json(local_service):
    workdir = local_service.workdir
    client = client_for(local_service.credentials)
    batch = local_service.credentials["samples"]["progressBatchId"]
    submitted = client.submit(
        {"tag": "client-cli", "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch}, "encryptionKey": KEY}
    )
    done = client.wait("client-cli", submitted["requestId"], interval_seconds=0.5, max_interval_seconds=1)
    request_id = submitted["requestId"]
    common = ("--local-credentials", "local.json")

    read = run_exhaust("client", "read", *common, "--tag", "client-cli", "--request-id", request_id, cwd=workdir)
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines()[0] == f"{request_id}  SUCCESS  tag client-cli  progress-exhaust"
    assert done["files"][0]["name"] in read.stdout
    as_json = run_exhaust(
        "client", "read", *common, "--json", "--tag", "client-cli", "--request-id", request_id, cwd=workdir
    )
    assert json.loads(as_json.stdout)["files"][0]["sha256"] == done["files"][0]["sha256"]

    listed = run_exhaust("client", "list", *common, "--json", "--tag", "client-cli", cwd=workdir)
    assert [job["requestId"] for job in json.loads(listed.stdout)["jobs"]] == [request_id]
    human = run_exhaust("client", "list", *common, "--tag", "client-cli", cwd=workdir)
    assert human.stdout.strip().splitlines()[-1] == "1 request(s)"

    found = run_exhaust("client", "search", *common, "--json", "--status", "SUCCESS", cwd=workdir)
    assert found.returncode == 0, found.stderr
    assert request_id in [job["requestId"] for job in json.loads(found.stdout)["jobs"]]
    refused = run_exhaust("client", "search", *common, "--status", "DONE", cwd=workdir)
    assert refused.returncode == 1
    assert "request.filters.status: must be one of" in refused.stderr
    stale = run_exhaust("client", "search", *common, "--status", "SUCCESS", "--cursor", "stale", cwd=workdir)
    assert stale.returncode == 1
    assert "request.cursor: is not a cursor this API handed out" in stale.stderr


def test_submit_with_a_search_filter_exports_every_batch_it_finds(local_service, tmp_path):
    collection = local_service.credentials["samples"]["collectionId"]
    search_filter = tmp_path / "filter.json"
    search_filter.write_text(
        json.dumps(
            {"request": {"filters": {"contentType": "Course", "channel": "local-channel", "identifier": [collection]}}}
        )
    )
    result = run_exhaust(
        "client",
        "submit",
        "--json",
        "--local-credentials",
        str(local_service.credentials_file),
        "--dataset",
        "progress-exhaust",
        "--tag",
        "client-search-filter",
        "--search-filter",
        f"@{search_filter}",
        "--encryption-key",
        KEY,
        "--wait",
        "--max-interval",
        "1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "SUCCESS"
    assert answer["datasetConfig"]["searchFilter"]["request"]["filters"]["identifier"] == [collection]
    assert answer["progress"]["batchesTotal"] >= 1
