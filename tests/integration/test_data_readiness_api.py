"""dataAvailableUntil on the dataset routes, from the lake's completeness marker in moto's lake bucket."""

import datetime as dt

import pytest
from exhaust import readiness

from tests.conftest import call_api, load_event

UNTIL = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.fixture
def marked_lake(aws_resources):
    readiness.write_marker(aws_resources.lake_uri, UNTIL, "nightly-load")
    return aws_resources


def test_every_listed_dataset_says_up_to_when_its_data_is_complete(tokens, marked_lake):
    status, _, body = call_api(load_event("dataset_list/all"), tokens["channel_a"])
    assert status == 200
    datasets = body["result"]["datasets"]
    assert datasets
    assert {dataset["dataAvailableUntil"] for dataset in datasets} == {"2026-11-30T00:00:00Z"}


def test_standard_dataset_get_answers_the_lakes_readiness(tokens, marked_lake):
    status, _, body = call_api(load_event("dataset_get/defaults"), tokens["channel_a"])
    assert status == 200, body
    assert body["result"]["dataAvailableUntil"] == "2026-11-30T00:00:00Z"


def test_the_marker_is_where_the_lake_loader_writes_it(marked_lake):
    from exhaust import aws

    key = f"{marked_lake.lake_prefix}{readiness.MARKER_NAME}"
    written = aws.client("s3").get_object(Bucket=marked_lake.lake_bucket, Key=key)["Body"].read()
    assert b'"writtenBy": "nightly-load"' in written
    assert readiness.read_marker(marked_lake.lake_uri) == int(UNTIL.timestamp() * 1000)


def test_without_a_marker_no_readiness_is_claimed(tokens, aws_resources):
    status, _, body = call_api(load_event("dataset_list/all"), tokens["channel_a"])
    assert status == 200
    assert all("dataAvailableUntil" not in dataset for dataset in body["result"]["datasets"])


def test_a_marker_that_cannot_be_understood_claims_nothing(tokens, aws_resources):
    from exhaust import aws

    key = f"{aws_resources.lake_prefix}{readiness.MARKER_NAME}"
    aws.client("s3").put_object(Bucket=aws_resources.lake_bucket, Key=key, Body=b'{"dataAvailableUntil": "soon"}')
    assert readiness.read_marker(aws_resources.lake_uri) is None
    status, _, body = call_api(load_event("dataset_list/all"), tokens["channel_a"])
    assert status == 200
    assert all("dataAvailableUntil" not in dataset for dataset in body["result"]["datasets"])
