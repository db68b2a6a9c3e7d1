"""Build batches into the exhaust bucket (moto): only AES-encrypted zips land in S3, with a manifest."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import zipfile

import pytest
import pyzipper
from exhaust import aws
from exhaust.aes_zip import EncryptedCsvZip, S3Upload
from exhaust.builders import BatchBuild, NoDataFound, build_batch_file

from tests.unit.handmade_lake import CHANNEL, write_handmade_lake

PASSWORD = "uKW)Afn9D5"
PREFIX = f"requests/{CHANNEL}/REQ1/"


@pytest.fixture
def lake(tmp_path):
    return write_handmade_lake(tmp_path / "lake")


def objects(bucket):
    listing = aws.client("s3").list_objects_v2(Bucket=bucket)
    return {item["Key"]: item for item in listing.get("Contents", [])}


def test_builds_land_as_encrypted_zips(aws_resources, lake):
    bucket = aws_resources.exhaust_bucket
    day = dt.date(2026, 11, 2)
    built = [
        build_batch_file(BatchBuild(dataset, "B1", CHANNEL, PASSWORD, lake, day), bucket, PREFIX)
        for dataset in ("progress-exhaust", "userinfo-exhaust", "response-exhaust")
    ]
    assert [record.key for record in built] == [
        f"{PREFIX}B1_progress_20261102.zip",
        f"{PREFIX}B1_userinfo_20261102.zip",
        f"{PREFIX}B1_response_20261102.zip",
    ]
    assert [record.rows for record in built] == [4, 1, 8]
    stored = objects(bucket)
    assert set(stored) == {record.key for record in built}
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


def test_a_batch_without_data_uploads_nothing(aws_resources, lake):
    bucket = aws_resources.exhaust_bucket
    with pytest.raises(NoDataFound):
        build_batch_file(
            BatchBuild("response-exhaust", "B3", CHANNEL, PASSWORD, lake, dt.date(2026, 11, 2)), bucket, PREFIX
        )
    assert objects(bucket) == {}


def test_large_zips_are_streamed_to_s3_in_parts_and_hashed_on_the_way(aws_resources):
    bucket = aws_resources.exhaust_bucket
    part = 5 * 1024 * 1024
    blocks = [os.urandom(1024 * 1024).hex().encode()[: 1024 * 1024] + b"\r\n" for _ in range(12)]
    with EncryptedCsvZip(S3Upload(bucket, f"{PREFIX}big.zip", part_bytes=part), "big.csv", PASSWORD) as archive:
        for block in blocks:
            archive.write_csv_bytes(block, rows=1)
    summary = archive.summary
    assert summary is not None
    s3 = aws.client("s3")
    head = s3.head_object(Bucket=bucket, Key=f"{PREFIX}big.zip")
    assert head["ContentLength"] == summary.bytes > part
    assert head["ETag"].strip('"').endswith(f"-{-(-summary.bytes // part)}")
    body = s3.get_object(Bucket=bucket, Key=f"{PREFIX}big.zip")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == summary.sha256
    with pyzipper.AESZipFile(io.BytesIO(body)) as opened:
        opened.setpassword(PASSWORD.encode())
        assert opened.read("big.csv") == b"".join(blocks)


def fail_after_some_parts(archive):
    with archive:
        for _ in range(8):
            archive.write_csv_bytes(os.urandom(1024 * 1024), rows=1)
        raise RuntimeError("lake went away")


def test_a_failed_build_aborts_its_upload_and_leaves_nothing(aws_resources):
    bucket = aws_resources.exhaust_bucket
    upload = S3Upload(bucket, f"{PREFIX}half.zip", part_bytes=5 * 1024 * 1024)
    with pytest.raises(RuntimeError, match="lake went away"):
        fail_after_some_parts(EncryptedCsvZip(upload, "half.csv", PASSWORD))
    assert objects(bucket) == {}
    assert aws.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_only_zips_are_ever_uploaded(aws_resources):
    with pytest.raises(ValueError, match="only encrypted zips"):
        S3Upload(aws_resources.exhaust_bucket, f"{PREFIX}x.csv")


def test_parts_smaller_than_s3_allows_are_refused(aws_resources):
    with pytest.raises(ValueError, match="5242880 bytes at least"):
        S3Upload(aws_resources.exhaust_bucket, f"{PREFIX}x.zip", part_bytes=1024 * 1024)
