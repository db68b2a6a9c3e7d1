"""Local mode's journal (issue 28): every write acknowledged since the last full save is replayed at the next start,
whatever cut the process (no save at the stop, a save cut short, a record torn by a crash)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exhaust import aws, resources
from exhaust_devkit.local.state import LocalState

from tests.conftest import moto_environment

CREDENTIALS = {"channel": "local-channel", "token": "t"}


@contextlib.contextmanager
def journaling(tmp_path: Path) -> Iterator[tuple[Any, LocalState]]:
    """A full save, then the journal recording as in local mode (no further save unless a test makes one)."""
    with moto_environment() as settings:
        state = LocalState(tmp_path)
        state.save(CREDENTIALS, settings.secrets_key_id)
        state.journal.start(*state.journal_names())
        try:
            yield settings, state
        finally:
            state.journal.stop()


def request_item(request_id: str, status: str = "SUBMITTED") -> dict[str, Any]:
    return {"requestId": {"S": request_id}, "status": {"S": status}}


@contextlib.contextmanager
def restored(root: Path) -> Iterator[tuple[Any, LocalState]]:
    """The state loaded into a new, empty moto (what the next start does)."""
    with moto_environment() as settings:
        state = LocalState(root)
        state.load()
        yield settings, state


def requests_in(settings: Any) -> dict[str, str]:
    items = aws.client("dynamodb").scan(TableName=settings.requests_table)["Items"]
    return {item["requestId"]["S"]: item["status"]["S"] for item in items}


def objects_in(settings: Any) -> dict[str, bytes]:
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=settings.exhaust_bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=settings.exhaust_bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_every_write_since_the_last_save_is_replayed(tmp_path: Path) -> None:
    with journaling(tmp_path) as (settings, _state):
        dynamodb, s3 = aws.client("dynamodb"), aws.client("s3")
        table = settings.requests_table
        dynamodb.put_item(TableName=table, Item=request_item("PUT"))
        dynamodb.put_item(TableName=table, Item=request_item("UPDATED"))
        dynamodb.update_item(
            TableName=table,
            Key={"requestId": {"S": "UPDATED"}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "SUCCESS"}},
        )
        dynamodb.put_item(TableName=table, Item=request_item("DELETED"))
        dynamodb.delete_item(TableName=table, Key={"requestId": {"S": "DELETED"}})
        batch = [{"PutRequest": {"Item": request_item(f"B{n}")}} for n in range(3)]
        dynamodb.batch_write_item(RequestItems={table: batch})
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": request_item("TRANSACTED", "PROCESSING")}},
                {"Delete": {"TableName": table, "Key": {"requestId": {"S": "B2"}}}},
            ]
        )
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):  # refused: nothing to replay
            dynamodb.put_item(
                TableName=table,
                Item=request_item("PUT", "FAILED"),
                ConditionExpression="attribute_not_exists(requestId)",
            )
        dynamodb.put_item(TableName=settings.credentials_table, Item={"secretHash": {"S": "new-token"}})

        bucket = settings.exhaust_bucket
        s3.put_object(Bucket=bucket, Key="a.zip", Body=b"first", ContentType="application/zip")
        s3.put_object(Bucket=bucket, Key="a.zip", Body=b"second", ContentType="application/zip")
        s3.put_object(Bucket=bucket, Key="gone.zip", Body=b"x")
        s3.put_object(Bucket=bucket, Key="gone-too.zip", Body=b"x")
        s3.delete_object(Bucket=bucket, Key="gone.zip")
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "gone-too.zip"}]})
        s3.copy_object(Bucket=bucket, Key="copy.zip", CopySource={"Bucket": bucket, "Key": "a.zip"})
        # Past boto3's multipart threshold (8 MB): parts, then CompleteMultipartUpload.
        big = bytes(range(256)) * 40_000
        (tmp_path.parent / "big.bin").write_bytes(big)
        s3.upload_file(str(tmp_path.parent / "big.bin"), bucket, "big.zip")

    with restored(tmp_path) as (again, _):
        assert requests_in(again) == {
            "PUT": "SUBMITTED",
            "UPDATED": "SUCCESS",
            "B0": "SUBMITTED",
            "B1": "SUBMITTED",
            "TRANSACTED": "PROCESSING",
        }
        key = {"secretHash": {"S": "new-token"}}
        assert "Item" in aws.client("dynamodb").get_item(TableName=again.credentials_table, Key=key)
        assert objects_in(again) == {"a.zip": b"second", "copy.zip": b"second", "big.zip": big}
        head = aws.client("s3").head_object(Bucket=again.exhaust_bucket, Key="a.zip")
        assert head["ContentType"] == "application/zip"


def test_a_full_save_empties_the_journal_and_the_state_stays_whole(tmp_path: Path) -> None:
    with journaling(tmp_path) as (settings, state):
        aws.client("dynamodb").put_item(TableName=settings.requests_table, Item=request_item("BEFORE"))
        aws.client("s3").put_object(Bucket=settings.exhaust_bucket, Key="before.zip", Body=b"b")
        assert state.journal.records_since_rotation == 2
        before = state.journal.segments()
        state.save(CREDENTIALS, settings.secrets_key_id)
        after = state.journal.segments()
        assert len(after) == 1  # only the segment begun by this save
        assert after[0] not in before
        assert state.journal.records_since_rotation == 0
        assert list((tmp_path / "journal" / "objects").iterdir()) == []
        aws.client("dynamodb").put_item(TableName=settings.requests_table, Item=request_item("AFTER"))
        aws.client("s3").delete_object(Bucket=settings.exhaust_bucket, Key="before.zip")

    with restored(tmp_path) as (again, loaded):
        assert requests_in(again) == {"BEFORE": "SUBMITTED", "AFTER": "SUBMITTED"}
        assert objects_in(again) == {}
        assert loaded.missing_objects == []


def test_a_save_cut_short_keeps_the_journal_it_did_not_finish_holding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop or a crash during a full save: the segments it began from stay, and replay over what it wrote."""
    with journaling(tmp_path) as (settings, state):
        aws.client("dynamodb").put_item(TableName=settings.requests_table, Item=request_item("ACKNOWLEDGED"))
        aws.client("s3").put_object(Bucket=settings.exhaust_bucket, Key="file.zip", Body=b"built")

        def cut(_self: LocalState) -> None:
            raise TimeoutError("the process ended here")

        with monkeypatch.context() as patch:
            patch.setattr(LocalState, "_save_buckets", cut)
            with pytest.raises(TimeoutError):
                state.save(CREDENTIALS, settings.secrets_key_id)
        aws.client("dynamodb").put_item(TableName=settings.requests_table, Item=request_item("LATER"))

    with restored(tmp_path) as (again, _):
        assert requests_in(again) == {"ACKNOWLEDGED": "SUBMITTED", "LATER": "SUBMITTED"}
        assert objects_in(again) == {"file.zip": b"built"}


def test_a_torn_last_record_is_skipped_with_a_warning_and_the_rest_replays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """kill -9 in the middle of a record's write leaves its beginning: that write was never acknowledged."""
    with journaling(tmp_path) as (settings, state):
        for request_id in ("FIRST", "SECOND"):
            aws.client("dynamodb").put_item(TableName=settings.requests_table, Item=request_item(request_id))
        (segment,) = state.journal.segments()
    torn = json.dumps({"table": "requests", "key": {"requestId": {"S": "TORN"}}, "item": request_item("TORN")})
    segment.write_bytes(segment.read_bytes() + f"{0:08x} {torn}"[:40].encode())

    with caplog.at_level(logging.WARNING), restored(tmp_path) as (again, loaded):
        assert requests_in(again) == {"FIRST": "SUBMITTED", "SECOND": "SUBMITTED"}
        assert loaded.damaged_records == [f"{segment.name}:3"]
    assert "journal records damaged" in caplog.text


def test_a_damaged_record_inside_the_journal_is_skipped_and_the_others_replay(tmp_path: Path) -> None:
    with journaling(tmp_path) as (settings, state):
        for request_id in ("FIRST", "DAMAGED", "THIRD"):
            aws.client("dynamodb").put_item(TableName=settings.requests_table, Item=request_item(request_id))
        (segment,) = state.journal.segments()
    segment.write_bytes(segment.read_bytes().replace(b"DAMAGED", b"DAMAGES"))  # its checksum no longer matches

    with restored(tmp_path) as (again, loaded):
        assert requests_in(again) == {"FIRST": "SUBMITTED", "THIRD": "SUBMITTED"}
        assert loaded.damaged_records == [f"{segment.name}:2"]


def test_tables_and_buckets_not_local_modes_are_not_journaled(tmp_path: Path) -> None:
    with journaling(tmp_path) as (_settings, state):
        aws.client("s3").create_bucket(Bucket="someone-elses")
        aws.client("s3").put_object(Bucket="someone-elses", Key="k", Body=b"x")
        assert state.journal.records_since_rotation == 0
        assert sorted(state.journal_names()[1].values()) == sorted(bucket.name for bucket in resources.BUCKETS)
