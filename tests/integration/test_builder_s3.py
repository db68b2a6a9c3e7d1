"""Build batches into the exhaust bucket (moto): only AES-encrypted zips land in S3, with a manifest."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import zipfile

import pytest
import pyzipper
from exhaust import aws
from exhaust.builders import NoDataFound, build_batch_file
from exhaust.packaging import EncryptedCsvZip, upload_zip, write_manifest

from tests.unit.handmade_lake import CHANNEL, write_handmade_lake

PASSWORD = "uKW)Afn9D5"
PREFIX = f"requests/{CHANNEL}/REQ1/"


@pytest.fixture
def lake(tmp_path):
    return write_handmade_lake(tmp_path / "lake")


def objects(bucket):
    listing = aws.client("s3").list_objects_v2(Bucket=bucket)
    return {item["Key"]: item for item in listing.get("Contents", [])}


def test_builds_land_as_encrypted_zips_with_a_manifest(aws_resources, lake):
    bucket = aws_resources.exhaust_bucket
    day = dt.date(2026, 11, 2)
    built = [
        build_batch_file(dataset, "B1", CHANNEL, PASSWORD, lake, bucket, PREFIX, day)
        for dataset in ("progress-exhaust", "userinfo-exhaust", "response-exhaust")
    ]
    assert [record.key for record in built] == [
        f"{PREFIX}B1_progress_20261102.zip",
        f"{PREFIX}B1_userinfo_20261102.zip",
        f"{PREFIX}B1_response_20261102.zip",
    ]
    assert [record.rows for record in built] == [4, 1, 8]
    manifest_key = write_manifest(bucket, PREFIX, built)

    stored = objects(bucket)
    assert set(stored) == {record.key for record in built} | {manifest_key}
    s3 = aws.client("s3")
    for record in built:
        body = s3.get_object(Bucket=bucket, Key=record.key)["Body"].read()
        assert len(body) == record.bytes
        assert hashlib.sha256(body).hexdigest() == record.sha256
        with zipfile.ZipFile(io.BytesIO(body)) as plain_view:
            assert all(info.flag_bits & 0x1 for info in plain_view.infolist())
        with pyzipper.AESZipFile(io.BytesIO(body)) as archive:
            archive.setpassword(PASSWORD.encode())
            (name,) = archive.namelist()
            assert name == record.name.replace(".zip", ".csv")
            rows = list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))
        assert len(rows) == record.rows + 1
        assert b"Sharma" not in body

    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert manifest["files"] == [record.to_dict() for record in built]
    assert manifest["totalRows"] == 13


def test_a_batch_without_data_uploads_nothing(aws_resources, lake):
    bucket = aws_resources.exhaust_bucket
    with pytest.raises(NoDataFound):
        build_batch_file("response-exhaust", "B3", CHANNEL, PASSWORD, lake, bucket, PREFIX, dt.date(2026, 11, 2))
    assert objects(bucket) == {}


def test_large_zips_are_uploaded_in_parts(aws_resources, tmp_path):
    bucket = aws_resources.exhaust_bucket
    with EncryptedCsvZip(tmp_path / "big.zip", "big.csv", PASSWORD, compresslevel=1) as archive:
        for _ in range(12):
            archive.write_csv_bytes(os.urandom(1024 * 1024).hex().encode()[: 1024 * 1024] + b"\r\n", rows=1)
    record = upload_zip(archive.summary, bucket, f"{PREFIX}big.zip", part_bytes=5 * 1024 * 1024)
    head = aws.client("s3").head_object(Bucket=bucket, Key=record.key)
    assert head["ContentLength"] == record.bytes > 5 * 1024 * 1024
    assert head["ETag"].strip('"').endswith(f"-{-(-record.bytes // (5 * 1024 * 1024))}")


def test_only_zips_are_ever_uploaded(aws_resources, tmp_path):
    with EncryptedCsvZip(tmp_path / "x.zip", "x.csv", PASSWORD) as archive:
        archive.write_rows([["a"]])
    with pytest.raises(ValueError, match="only encrypted zips"):
        upload_zip(archive.summary, aws_resources.exhaust_bucket, f"{PREFIX}x.csv")
