"""Seed rules the Plan step enforces on a generated lake (issue 16): expired batches, the org-scoped dataset."""

from __future__ import annotations

import csv
import io

import pytest
from exhaust.pipeline.dispatch import Outcome
from exhaust.requests.models import Status

from tests.integration.test_pipeline import CALLBACK_SECRET, Harness, object_keys

EXPIRED = "Requested batch not found/Batch has expired"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.store import Lake
    from exhaust_devkit.lake.generator import generate

    root = tmp_path_factory.mktemp("lake")
    samples = generate("tiny", 7, str(root))
    catalog = Catalog(Lake.open(str(root)))
    main_batches = [batch.batch_id for batch in catalog.batches_of(samples["collectionId"])]
    return {"root": str(root), "samples": samples, "mainBatches": main_batches}


@pytest.fixture
def harness(aws_resources, lake) -> Harness:
    return Harness(settings=aws_resources.model_copy(update={"callback_secret": CALLBACK_SECRET}), lake=lake)


def test_a_batch_that_ended_long_ago_fails_with_the_seeds_message(harness):
    request_id = harness.submit(batchId=harness.lake["samples"]["expiredBatchId"])
    assert harness.drain() == [Outcome.STARTED]
    failed = harness.request(request_id)
    assert failed.status == Status.FAILED
    assert failed.statusMessage == EXPIRED
    assert failed.attempts == 1
    assert harness.builder.calls == {}


def test_expired_batches_in_a_batch_filter_are_dropped_like_unknown_ones(harness):
    expired = harness.lake["samples"]["expiredBatchId"]
    live = harness.lake["mainBatches"][0]
    request_id = harness.submit(batchFilter=[expired, "no-such-batch", live])
    harness.drain()
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS, done.statusMessage
    assert [f.batchId for f in done.files] == [live]
    assert harness.builder.calls == {live: 1}


def test_a_batch_filter_of_only_expired_and_unknown_batches_fails_as_expired(harness):
    request_id = harness.submit(batchFilter=["no-such-batch", harness.lake["samples"]["expiredBatchId"]])
    harness.drain()
    assert harness.request(request_id).statusMessage == EXPIRED
    assert object_keys(harness.settings) == []


def test_the_expiry_is_a_setting(aws_resources, lake):
    settings = aws_resources.model_copy(update={"callback_secret": CALLBACK_SECRET, "batch_expiry_days": 10_000})
    harness = Harness(settings=settings, lake=lake)
    request_id = harness.submit(batchId=lake["samples"]["expiredBatchId"])
    harness.drain()
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS, done.statusMessage
    assert done.files[0].rows > 0


def test_org_pii_builds_one_file_of_the_orgs_current_consents(harness):
    import datetime as dt

    from exhaust.lake.store import Lake

    from tests.integration.test_pipeline import PASSWORD, read_zip_csv

    channel = harness.lake["samples"]["channel"]
    request_id = harness.submit(dataset="org-pii-exhaust")
    harness.drain()
    done = harness.request(request_id)
    assert done.status == Status.SUCCESS, done.statusMessage
    today = dt.datetime.now(dt.UTC).date()
    (output,) = done.files
    assert output.name == f"{channel}_org-pii_{today:%Y%m%d}.zip"
    assert done.progress.batchesTotal == done.progress.batchesDone == 1
    text = read_zip_csv(harness.settings, output.key, PASSWORD)
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert header[:3] == ["Name", "User UUID", "State"]
    assert len(header) == 16
    listed = {row[1] for row in rows}

    # The rule, computed independently: the latest event per user for this org, ACTIVE and not expired.
    latest: dict[str, dict] = {}
    for event in Lake.open(harness.lake["root"]).read("org_consents").to_pylist():
        earlier = latest.get(event["user_id"])
        if event["consumer_id"] == channel and (earlier is None or event["consented_on"] >= earlier["consented_on"]):
            latest[event["user_id"]] = event
    expected = {
        user
        for user, event in latest.items()
        if event["status"] == "ACTIVE" and (event["expires_on"] is None or event["expires_on"] >= today)
    }
    assert expected
    assert listed == expected
    assert len(rows) == output.rows == len(expected)
