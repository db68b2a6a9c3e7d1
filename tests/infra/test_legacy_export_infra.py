"""The legacy and export APIs in the template: container images, grants under their own prefixes, expiry."""

import pytest
from exhaust.aws_limits import ANSWER_FUNCTION_TMP_BYTES

from tests.infra.walk import actions, function_logical_id, function_statements, listed, of_type, render


@pytest.mark.parametrize("folder", ["legacy", "export"])
def test_lake_reading_functions_are_arm64_container_images_within_the_gateway_timeout(resources, folder):
    properties = resources[function_logical_id(resources, folder)]["Properties"]
    assert properties["PackageType"] == "Image"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Timeout"] <= 29
    assert properties["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("folder", ["legacy", "export"])
def test_their_tmp_is_the_size_local_mode_enforces(resources, folder):
    properties = resources[function_logical_id(resources, folder)]["Properties"]
    assert properties["EphemeralStorage"] == {"Size": ANSWER_FUNCTION_TMP_BYTES // 2**20}


def test_the_export_ui_is_a_plain_zip_function(resources):
    assert "PackageType" not in resources[function_logical_id(resources, "export_ui")]["Properties"]


@pytest.mark.parametrize(("folder", "prefix"), [("legacy", "/legacy/*"), ("export", "/exports/*")])
def test_writes_and_signed_reads_stay_under_the_functions_own_prefix(resources, folder, prefix):
    statements = function_statements(resources, folder)
    for statement in statements:
        granted = listed(statement["Action"])
        if "s3:PutObject" in granted:
            assert all(render(r).endswith(prefix) for r in listed(statement["Resource"])), statement
    written = [s for s in statements if "s3:PutObject" in listed(s["Action"])]
    assert written, f"{folder} cannot upload its big answers"
    assert "s3:DeleteObject" not in actions(statements)


def test_export_touches_no_table_and_legacy_writes_only_its_failure_counters(resources):
    assert not any(a.startswith("dynamodb:") for a in actions(function_statements(resources, "export")))
    statements = function_statements(resources, "legacy")
    assert "dynamodb:GetItem" in actions(statements)
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    written = {render(r) for s in statements if writes & set(listed(s["Action"])) for r in listed(s["Resource"])}
    # The failed license key counters (exhaust.auth.lockout), by key: never the credentials nor another table.
    (table,) = written
    assert table.startswith("<StorageIdempotencyTable")


def test_big_answers_expire_after_a_day(resources):
    buckets = of_type(resources, "AWS::S3::Bucket")
    rules = [
        rule
        for logical_id, bucket in buckets.items()
        if logical_id.startswith("StorageExhaustBucket")
        for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    ]
    expiring = {rule.get("Prefix"): rule.get("ExpirationInDays") for rule in rules}
    assert expiring["legacy/"] == 1
    assert expiring["exports/"] == 1


def test_the_public_export_has_its_own_lower_throttle(resources):
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    settings = {(s["HttpMethod"], s["ResourcePath"]): s for s in stage["Properties"]["MethodSettings"]}
    everything = settings[("*", "/*")]
    export = settings[("GET", "/~1api~1export~1{format}")]
    assert 1 <= export["ThrottlingRateLimit"] < everything["ThrottlingRateLimit"]
    assert 1 <= export["ThrottlingBurstLimit"] < everything["ThrottlingBurstLimit"]
