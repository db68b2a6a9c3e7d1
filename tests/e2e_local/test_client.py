"""`exhaust client`: submit, wait and download against local mode, with resumed and verified downloads."""

import hashlib
import json

import pytest
import pyzipper
from exhaust.cli import main
from exhaust.client import ClientError, ExhaustClient

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
