"""Local mode's saved state under stress (issue 28): a damaged state, a save racing deletions, a stop after a failed
start (the journal between saves: test_local_journal.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from exhaust import aws, resources
from exhaust_devkit.local.state import LocalState

from tests.conftest import moto_environment

CREDENTIALS = {"channel": "local-channel", "token": "t", "baseUrl": "http://x"}


def put(settings: Any, key: str, body: bytes = b"x") -> None:
    aws.client("s3").put_object(Bucket=settings.public_bucket, Key=key, Body=body)


def saved_once(root: Path, keys: list[str]) -> None:
    with moto_environment() as settings:
        for key in keys:
            put(settings, key, key.encode())
        aws.client("dynamodb").put_item(
            TableName=settings.credentials_table, Item={"secretHash": {"S": "kept"}, "name": {"S": "partner"}}
        )
        LocalState(root).save(CREDENTIALS, settings.secrets_key_id)


def test_a_missing_object_file_is_reported_and_the_rest_restored(tmp_path: Path) -> None:
    """Issue 28: one object file missing (a save cut between its deletions and its index write) made the next
    start hang forever; now that object is reported and every other one restored."""
    saved_once(tmp_path, ["a.csv", "b.csv"])
    folder = tmp_path / "buckets" / resources.PUBLIC_BUCKET.name
    index = json.loads((folder / "index.json").read_text())
    (folder / "objects" / index["a.csv"]["file"]).unlink()

    with moto_environment() as settings:
        state = LocalState(tmp_path)
        state.load()
        assert state.missing_objects == [f"{resources.PUBLIC_BUCKET.name}/a.csv"]
        body = aws.client("s3").get_object(Bucket=settings.public_bucket, Key="b.csv")["Body"].read()
        assert body == b"b.csv"
        kept = aws.client("dynamodb").get_item(TableName=settings.credentials_table, Key={"secretHash": {"S": "kept"}})
        assert kept["Item"]["name"] == {"S": "partner"}
    assert "a.csv" not in json.loads((folder / "index.json").read_text())  # the next save starts from the truth


def test_an_object_deleted_between_listing_and_reading_is_skipped(tmp_path: Path, monkeypatch) -> None:
    """Issue 28: a periodic save during a mass cancel failed with NoSuchKey."""
    with moto_environment() as settings:
        put(settings, "stays.csv")
        put(settings, "cancelled.csv")
        from exhaust_devkit.local import state as module

        listing = module._listing

        def listed_then_deleted(s3: Any, bucket: str) -> list[tuple[str, str]]:
            """Lists, then removes one object before the save reads it (what a cancel does meanwhile)."""
            found = listing(s3, bucket)
            if bucket == settings.public_bucket:
                s3.delete_object(Bucket=bucket, Key="cancelled.csv")
            return found

        monkeypatch.setattr(module, "_listing", listed_then_deleted)
        LocalState(tmp_path).save(CREDENTIALS, settings.secrets_key_id)
    index = json.loads((tmp_path / "buckets" / resources.PUBLIC_BUCKET.name / "index.json").read_text())
    assert sorted(index) == ["stays.csv"]


def test_a_stop_after_a_start_that_failed_before_serving_returns(tmp_path: Path) -> None:
    """Issue 28: the stop waited forever on a gateway that never started (and so ignored SIGTERM)."""
    from exhaust_devkit.local.gateway import LocalGateway
    from exhaust_devkit.local.runtime import LocalService

    service = LocalService(port=0, state_dir=tmp_path)
    service._gateway = LocalGateway("127.0.0.1", 0)  # created, as start() does, before a failure
    stopping = threading.Thread(target=service.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=3)
    assert not stopping.is_alive()


def test_a_request_building_when_local_mode_stopped_says_so_when_resumed(tmp_path: Path) -> None:
    """Issue 28: after Ctrl-C and a restart, it said "interrupted by a temporary AWS failure"."""
    from exhaust.requests.models import ExhaustRequest, Status
    from exhaust.requests.store import RequestStore
    from exhaust_devkit.local.runtime import RESUMED_MESSAGE, resume_interrupted_work

    with moto_environment() as settings:
        store = RequestStore()
        store.create(
            ExhaustRequest(
                requestId="BUILDING",
                channel="local-channel",
                tag="t",
                dataset="progress-exhaust",
                datasetConfig={"batchId": "b"},
                requestedBy="u",
                submittedAt=1,
                updatedAt=1,
                status=Status.PROCESSING,
                executionArn="BUILDING-1",
            )
        )
        resume_interrupted_work(settings)
        resumed = store.get("BUILDING")
        assert resumed is not None
        assert resumed.status == Status.SUBMITTED
        assert resumed.statusMessage == RESUMED_MESSAGE


def test_the_saves_fast_reads_equal_what_the_api_answers(tmp_path: Path) -> None:
    """The save reads moto's models (a Scan of 2,900 requests took 5.3 s, past what a stop may wait): the items and
    the listing must be exactly what a Scan and ListObjectsV2 answer."""
    from exhaust_devkit.local.state import _listing

    with moto_environment() as settings:
        dynamodb = aws.client("dynamodb")
        item = {
            "requestId": {"S": "R1"},
            "submittedAt": {"N": "1700000000000"},
            "progress": {"M": {"batchesDone": {"N": "2"}, "names": {"L": [{"S": "a"}, {"NULL": True}]}}},
            "flags": {"SS": ["x", "y"]},
            "queueSendFailed": {"BOOL": False},
        }
        dynamodb.put_item(TableName=settings.requests_table, Item=item)
        state = LocalState(tmp_path)
        scanned = state._scan_tables()
        assert state._read_tables() == scanned
        assert scanned[resources.REQUESTS_TABLE.name] == [item]

        s3 = aws.client("s3")
        for key in ("a.csv", "deep/b.zip"):
            put(settings, key, key.encode() * 100)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.public_bucket)
        listed = sorted((o["Key"], o["ETag"]) for page in pages for o in page.get("Contents", []))
        assert sorted(_listing(s3, settings.public_bucket)) == listed


def test_the_starts_fast_load_equals_what_batch_write_item_stores(tmp_path: Path) -> None:
    """The start puts the saved items straight into moto's models (BatchWriteItem took seconds for a few thousand
    requests): what a Scan then answers must be exactly what the same items written through the API give."""
    from exhaust_devkit.local.atomic import restore_items

    items = [
        {
            "requestId": {"S": f"R{number}"},
            "submittedAt": {"N": str(1700000000000 + number)},
            "channel": {"S": "local-channel"},
            "progress": {"M": {"batchesDone": {"N": "2"}, "names": {"L": [{"S": "a"}, {"NULL": True}]}}},
            "flags": {"SS": ["x", "y"]},
            "sizes": {"NS": ["1", "2.5"]},
            "queueSendFailed": {"BOOL": False},
        }
        for number in range(60)
    ]

    by_channel = next(index for index in resources.REQUESTS_TABLE.indexes if index.partition_key == "channel")

    def in_channel(table: str) -> int:
        return int(
            aws.client("dynamodb").query(
                TableName=table,
                IndexName=by_channel.name,
                KeyConditionExpression="channel = :v",
                ExpressionAttributeValues={":v": {"S": "local-channel"}},
            )["Count"]
        )

    def scanned(table: str) -> list[dict[str, Any]]:
        pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        return sorted((item for page in pages for item in page["Items"]), key=lambda item: item["requestId"]["S"])

    with moto_environment() as settings:
        dynamodb = aws.client("dynamodb")
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            dynamodb.batch_write_item(RequestItems={settings.requests_table: batch})
        through_the_api = scanned(settings.requests_table)
        assert in_channel(settings.requests_table) == len(items)
    with moto_environment() as settings:
        restore_items(settings.requests_table, items)
        assert scanned(settings.requests_table) == through_the_api
        assert through_the_api[0]["progress"] == items[0]["progress"]
        assert in_channel(settings.requests_table) == len(items)  # the indexes see them too
