"""A re-produced day reaches readers through CloudFront at once: the producer invalidates the public files."""

import datetime as dt

import pyarrow as pa
import pytest
from exhaust.lake import schemas
from exhaust.lake.store import Lake
from exhaust.settings import RuntimeSettings
from exhaust.standard.dates import DateRange
from exhaust.standard.producer import CloudFrontCache, Producer, producer_from_settings

from tests.integration.test_producer_s3 import DAY, telemetry_rows


def distribution() -> str:
    from exhaust import aws

    origin = {"Id": "public", "DomainName": "public.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}
    config = {
        "CallerReference": "test",
        "Comment": "public datasets",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "public", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    return str(aws.client("cloudfront").create_distribution(DistributionConfig=config)["Distribution"]["Id"])


def invalidated_paths(distribution_id: str) -> list[list[str]]:
    from exhaust import aws

    cloudfront = aws.client("cloudfront")
    listing = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    return [
        cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"]["InvalidationBatch"][
            "Paths"
        ]["Items"]
        for item in listing.get("Items", [])
    ]


@pytest.fixture
def lake(tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    lake.write("telemetry", pa.Table.from_pylist(telemetry_rows(6), schema=schemas.TELEMETRY))
    return lake


def test_producing_a_day_again_invalidates_the_public_files_in_cloudfront(aws_resources, lake):
    distribution_id = distribution()
    producer = Producer(
        lake, aws_resources.exhaust_bucket, aws_resources.public_bucket, cdn=CloudFrontCache(distribution_id)
    )
    producer.produce(DateRange(DAY, DAY))
    producer.produce(DateRange(DAY, DAY))  # the day again, after a correction of the lake
    assert invalidated_paths(distribution_id) == [["/public-summary-rollup/*"], ["/public-summary-rollup/*"]]


def test_a_day_without_telemetry_writes_nothing_and_invalidates_nothing(aws_resources, lake):
    distribution_id = distribution()
    producer = Producer(
        lake, aws_resources.exhaust_bucket, aws_resources.public_bucket, cdn=CloudFrontCache(distribution_id)
    )
    producer.produce(DateRange(DAY - dt.timedelta(days=1), DAY - dt.timedelta(days=1)))
    assert invalidated_paths(distribution_id) == []


def test_the_distribution_comes_from_the_settings_and_local_mode_has_none(aws_resources):
    with_cdn = RuntimeSettings(lake_bucket="lake", cdn_distribution_id="E123")
    cdn = producer_from_settings(with_cdn).cdn
    assert isinstance(cdn, CloudFrontCache)
    assert cdn.distribution_id == "E123"
    assert producer_from_settings(RuntimeSettings(lake_bucket="lake")).cdn is None
