"""The console in AWS: its bucket, the copy of the built files, its distribution with the API behind /api."""

from pathlib import Path

import pytest

from infra.console import API_PATH_PATTERN, CONSOLE_PREFIX, ConsoleNotBuilt, console_assets

from .walk import of_type

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed "CachingDisabled"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AWS managed "AllViewerExceptHostHeader"


def console_distribution(resources):
    distributions = of_type(resources, "AWS::CloudFront::Distribution")
    (found,) = [r for name, r in distributions.items() if name.startswith("Console")]
    return found["Properties"]["DistributionConfig"]


def test_the_api_is_behind_the_consoles_distribution_uncached_with_the_callers_headers(resources):
    config = console_distribution(resources)
    (api,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == API_PATH_PATTERN]
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(api["AllowedMethods"]) >= {"GET", "POST", "OPTIONS"}
    assert api["ViewerProtocolPolicy"] == "https-only"
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    api_origin = origins[api["TargetOriginId"]]
    assert "RestApi" in str(api_origin["DomainName"])
    assert api_origin["OriginPath"]  # the stage, so /api/... reaches the stage's /api/...


def test_the_console_files_come_from_its_private_bucket_through_origin_access_control(resources):
    config = console_distribution(resources)
    default = config["DefaultCacheBehavior"]
    origin = next(o for o in config["Origins"] if o["Id"] == default["TargetOriginId"])
    assert origin["DomainName"]["Fn::GetAtt"][0].startswith("ConsoleBucket")
    assert origin["OriginAccessControlId"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    (association,) = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    (bucket,) = [r for name, r in of_type(resources, "AWS::S3::Bucket").items() if name.startswith("ConsoleBucket")]
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_the_built_files_are_copied_under_console_index_revalidated_assets_immutable(resources):
    copies = {
        name: r["Properties"]
        for name, r in of_type(resources, "Custom::CDKBucketDeployment").items()
        if name.startswith("Console")
    }
    by_prefix = {props["DestinationBucketKeyPrefix"]: props for props in copies.values()}
    assert set(by_prefix) == {f"{CONSOLE_PREFIX}/", f"{CONSOLE_PREFIX}/assets/"}
    assert by_prefix[f"{CONSOLE_PREFIX}/"]["SystemMetadata"]["cache-control"] == "no-cache"
    assert "immutable" in by_prefix[f"{CONSOLE_PREFIX}/assets/"]["SystemMetadata"]["cache-control"]


def test_presigned_summary_files_may_be_read_from_the_consoles_page(resources):
    (exhaust,) = [r for name, r in of_type(resources, "AWS::S3::Bucket").items() if name.startswith("StorageExhaust")]
    (rule,) = exhaust["Properties"]["CorsConfiguration"]["CorsRules"]
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD"}


def test_the_console_url_is_an_output(template):
    assert template.find_outputs("ConsoleUrl")


def test_synthesis_refuses_an_unbuilt_console(tmp_path: Path):
    with pytest.raises(ConsoleNotBuilt, match="run `make console`"):
        console_assets(tmp_path)
