"""The deploy review's findings (issue 27 items 2, 4-10), read off the synthesized templates: the default stack
(the session's synthesis) and one with every opt-in setting turned the other way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from exhaust.resources import REQUESTS_TABLE, TABLES

from infra.config import StackSettings
from infra.layer import LAYER_DEPENDENCIES, RUNTIME_PYTHON, locked_version, stage_dependencies

from .walk import listed, of_type, public_distribution, render, role_statements, service_functions

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
LAKE_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OPTED: dict[str, object] = {
    "powertools_layer": "public",
    "lake_bucket_name": "partner-lake",
    "lake_kms_key_arn": LAKE_KEY,
    "retain": "false",
    "api_cloudwatch_role": "true",
    "builder_reserved_concurrency": "50",
    "request_retention_days": "0",
}
# Functions that read or write the lake's objects (infra/grants.py), and those that only read its marker.
LAKE_READERS = ("plan", "builder", "legacy", "export", "producer", "indexer")
MARKER_READERS = ("dataset_get", "dataset_list")


@pytest.fixture(scope="module")
def opted_template(tmp_path_factory) -> dict[str, Any]:
    from app import build_app

    outdir = tmp_path_factory.mktemp("opted")
    app, stack = build_app(OPTED, outdir=str(outdir), checks=True)
    # Raises on any unacknowledged cdk-nag finding (the buckets' auto-delete handler included).
    return app.synth().get_stack_by_name(stack.stack_name).template


@pytest.fixture(scope="module")
def opted(opted_template) -> dict[str, dict[str, Any]]:
    return opted_template["Resources"]


def zip_functions(resources) -> dict[str, dict[str, Any]]:
    return {
        logical_id: f["Properties"]
        for logical_id, f in service_functions(resources).items()
        if f["Properties"].get("PackageType") != "Image" and "Layers" in f["Properties"]
    }


def role_of(resources, folder: str) -> list[dict[str, Any]]:
    """A function's statements by its folder, wherever its construct lives (API, pipeline, scheduler, builder)."""
    by_log_group = {
        f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]: f
        for f in of_type(resources, "AWS::Lambda::Function").values()
        if "LoggingConfig" in f["Properties"] and isinstance(f["Properties"]["LoggingConfig"].get("LogGroup"), dict)
    }
    for logical_id, group in of_type(resources, "AWS::Logs::LogGroup").items():
        name = group["Properties"].get("LogGroupName")
        if isinstance(name, str) and name.endswith(f"/{folder}") and logical_id in by_log_group:
            return role_statements(resources, by_log_group[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0])
    raise AssertionError(f"no function logs to .../{folder}")


# -- item 2: Powertools in our own layer by default, the public SSM parameter a setting ------------------------------


def test_by_default_the_zip_functions_get_powertools_from_the_stacks_own_layer(synthesis, resources):
    template = synthesis.template_json()
    assert not [p for p in template.get("Parameters", {}).values() if "/aws/service/" in str(p.get("Default"))]
    layers = of_type(resources, "AWS::Lambda::LayerVersion")
    (dependencies,) = [i for i in layers if i.startswith("DependenciesLayer")]
    assert layers[dependencies]["Properties"]["CompatibleArchitectures"] == ["arm64"]
    functions = zip_functions(resources)
    assert functions
    assert all({"Ref": dependencies} in f["Layers"] for f in functions.values())


def test_the_dependencies_layer_holds_the_locked_releases_as_arm64_wheels_for_the_runtime(tmp_path):
    staged = stage_dependencies(tmp_path) / "python"
    for name in LAYER_DEPENDENCIES:
        dist_info = f"{name.replace('-', '_')}-{locked_version(name)}.dist-info"
        assert (staged / dist_info).is_dir(), dist_info
    (core,) = (staged / "pydantic_core").glob("_pydantic_core.*.so")
    assert core.name == f"_pydantic_core.cpython-{RUNTIME_PYTHON.replace('.', '')}-aarch64-linux-gnu.so"
    assert stage_dependencies(tmp_path) == staged.parent  # staged once per lock, reused by the next synth


def test_the_public_powertools_layer_is_a_setting_at_the_release_the_lock_pins(opted_template, resources):
    opted = opted_template["Resources"]
    assert not [i for i in of_type(opted, "AWS::Lambda::LayerVersion") if i.startswith("DependenciesLayer")]
    release = f"/aws/service/powertools/python/arm64/python3.12/{locked_version('aws-lambda-powertools')}"
    (parameter,) = [name for name, p in opted_template["Parameters"].items() if p.get("Default") == release]
    functions = zip_functions(opted)
    assert len(functions) == len(zip_functions(resources))
    assert all({"Ref": parameter} in f["Layers"] for f in functions.values())
    with pytest.raises(ValueError, match="powertools_layer"):
        StackSettings.model_validate({"powertools_layer": "latest"})


# -- item 4: an SSE-KMS lake -----------------------------------------------------------------------------------------


def _key_statements(statements) -> list[dict[str, Any]]:
    return [s for s in statements if LAKE_KEY in [render(r) for r in listed(s["Resource"])]]


def test_the_lakes_key_is_granted_to_its_readers_and_to_no_one_else(opted):
    for folder in (*LAKE_READERS, *MARKER_READERS):
        (statement,) = _key_statements(role_of(opted, folder))
        expected = ["kms:Decrypt", "kms:GenerateDataKey"] if folder == "indexer" else "kms:Decrypt"
        assert statement["Action"] == expected, folder
    for folder in ("submit", "read", "list", "search", "finalize", "dispatcher", "authorizer", "public_dataset_get"):
        assert not _key_statements(role_of(opted, folder)), folder


def test_the_lakes_key_is_granted_to_the_spark_jobs_role_which_reads_and_writes_the_lake(opted):
    (role,) = [i for i in of_type(opted, "AWS::IAM::Role") if i.startswith("LakeIndexSparkJobRole")]
    (statement,) = _key_statements(role_statements(opted, role))
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_without_a_lake_key_no_function_may_use_one(resources):
    for folder in LAKE_READERS:
        lake_kms = [s for s in role_of(resources, folder) if "kms:" in str(s["Action"]) and "Lake" in str(s)]
        assert not lake_kms, folder
    with pytest.raises(ValueError, match="lake_kms_key_arn"):
        StackSettings(lake_kms_key_arn="alias/my-lake")


# -- item 5: CloudFront answers 404, not 403, for a file not produced yet -------------------------------------------


def test_cloudfront_may_list_the_public_bucket_and_nothing_else_may(resources):
    distribution = public_distribution(resources)
    policies = of_type(resources, "AWS::S3::BucketPolicy").values()
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (listing,) = [s for s in statements if "s3:ListBucket" in listed(s["Action"])]
    assert listing["Effect"] == "Allow"
    assert listing["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    # ListBucket applies to the bucket's own ARN (GetObject, merged into the statement, to its objects).
    assert "<StoragePublicBucket" in render(listed(listing["Resource"])[0])
    assert all(render(r).startswith("<StoragePublicBucket") for r in listed(listing["Resource"]))
    source = listing["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert distribution in render(source)


# -- item 6: the runbook's log group names are the functions' ----------------------------------------------------------


def test_every_function_logs_to_a_group_named_after_the_stack_and_its_folder(resources):
    groups = of_type(resources, "AWS::Logs::LogGroup")
    folders = {path.name for path in (REPO_ROOT / "functions").iterdir() if path.is_dir()}
    names = []
    for function in of_type(resources, "AWS::Lambda::Function").values():
        logging = function["Properties"].get("LoggingConfig", {})
        if "LogGroup" not in logging:
            continue  # CDK's own helpers (the buckets' auto-delete handler), not the service's functions
        name = groups[logging["LogGroup"]["Ref"]]["Properties"]["LogGroupName"]
        match = re.fullmatch(r"/exhaust-dev/([a-z_]+)", name)
        assert match, name
        assert match.group(1) in folders, name
        names.append(name)
    assert len(names) == len(set(names)) >= 15


def test_the_runbook_names_the_log_groups_the_functions_use():
    for document in (DEPLOY_DOC, *sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "README.md"):
        assert "/aws/lambda/" not in document.read_text(), document.name
    text = DEPLOY_DOC.read_text()
    assert "/exhaust-<stage>/<function>" in text
    assert "/exhaust-<stage>/api-access" in text


# -- item 7: max_running_total fits the builder's reservation ----------------------------------------------------------


def _dispatcher_environment(resources) -> dict[str, str]:
    (dispatcher,) = [
        f["Properties"]
        for i, f in of_type(resources, "AWS::Lambda::Function").items()
        if i.startswith("PipelineDispatcher")
    ]
    return dispatcher["Environment"]["Variables"]


def test_the_running_total_is_derived_from_the_builders_reservation(resources, opted):
    assert _dispatcher_environment(resources)["EXHAUST_MAX_RUNNING_TOTAL"] == "10"  # 100 reserved / 10 per request
    assert _dispatcher_environment(opted)["EXHAUST_MAX_RUNNING_TOTAL"] == "5"  # 50 / 10
    assert StackSettings(builder_reserved_concurrency=0).running_total == 10
    assert StackSettings(max_running_total=3).running_total == 3


def test_a_running_total_beyond_the_reservation_is_refused_at_synth():
    with pytest.raises(ValueError, match="max_running_total") as refused:
        StackSettings(builder_reserved_concurrency=50, max_running_total=10)
    message = str(refused.value)
    assert "max_running_total: 10 requests x map_max_concurrency 10 = 100 builders" in message
    assert "builder_reserved_concurrency (50)" in message
    assert "use at most 5" in message


# -- item 8: indexes project what their queries need; finished requests expire -------------------------------------


def test_each_index_projects_only_what_its_queries_filter_on(resources):
    (table,) = [
        t["Properties"]
        for t in of_type(resources, "AWS::DynamoDB::Table").values()
        if t["Properties"]["KeySchema"] == [{"AttributeName": "requestId", "KeyType": "HASH"}]
        and "GlobalSecondaryIndexes" in t["Properties"]
    ]
    deployed = {index["IndexName"]: index["Projection"] for index in table["GlobalSecondaryIndexes"]}
    assert deployed == {
        "by-tag": {"ProjectionType": "KEYS_ONLY"},
        "by-channel": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status", "dataset"]},
        "by-status": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["channel", "dataset", "outbox"]},
        "by-dataset": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["channel", "status"]},
    }
    assert {index.name for index in REQUESTS_TABLE.indexes} == set(deployed)
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    counters = {"progress", "updatedAt", "version", "transientSince"}  # what a builder's batch record changes
    assert not counters & {a for projection in deployed.values() for a in projection.get("NonKeyAttributes", [])}


def test_the_request_retention_reaches_the_functions(resources, opted):
    assert _dispatcher_environment(resources)["EXHAUST_REQUEST_RETENTION_DAYS"] == "365"
    assert _dispatcher_environment(opted)["EXHAUST_REQUEST_RETENTION_DAYS"] == "0"


# -- item 9: the account-wide API Gateway CloudWatch role is opt-in ----------------------------------------------------


def test_the_api_gateway_account_role_is_left_alone_unless_asked(resources, opted):
    assert not of_type(resources, "AWS::ApiGateway::Account")
    assert not [i for i in of_type(resources, "AWS::IAM::Role") if "CloudWatchRole" in i]
    (account,) = of_type(opted, "AWS::ApiGateway::Account").values()
    assert "CloudWatchRole" in render(account["Properties"]["CloudWatchRoleArn"])


# -- item 10: what a deleted stack leaves behind --------------------------------------------------------------------


def _kept(resources) -> dict[str, int]:
    kept: dict[str, int] = {}
    for resource in resources.values():
        if resource.get("DeletionPolicy") == "Retain":
            kept[resource["Type"]] = kept.get(resource["Type"], 0) + 1
    return kept


def test_by_default_the_data_outlives_the_stack_and_nothing_else_does(resources):
    assert _kept(resources) == {
        "AWS::DynamoDB::Table": len(TABLES),
        "AWS::S3::Bucket": 5,  # exhaust, lake, public, access logs, console
        "AWS::KMS::Key": 2,  # the tables' key and the secrets key (the alarm topic's key goes with the topic)
        "AWS::SecretsManager::Secret": 1,  # the callback signing secret
    }
    assert all(group["DeletionPolicy"] == "Delete" for group in of_type(resources, "AWS::Logs::LogGroup").values())


def test_with_retain_off_nothing_outlives_the_stack_and_buckets_are_emptied_first(opted):
    # But the API Gateway logging role the stack was asked to set (api_cloudwatch_role): every API of the region
    # logs with it, so it stays (CDK's choice, documented).
    assert _kept(opted) == {"AWS::ApiGateway::Account": 1, "AWS::IAM::Role": 1}
    buckets = of_type(opted, "AWS::S3::Bucket")
    emptied = {render(r["Properties"]["BucketName"]) for r in of_type(opted, "Custom::S3AutoDeleteObjects").values()}
    assert emptied == {f"<{logical_id}>" for logical_id in buckets}
    # exhaust, public, access logs, console: an existing lake is never the stack's to delete
    assert len(buckets) == 4


def test_the_teardown_docs_list_what_stays_and_how_to_remove_it():
    text = DEPLOY_DOC.read_text()
    section = text[text.index("## Teardown") :]
    for what in ("DynamoDB tables", "S3 buckets", "KMS keys", "callback signing secret", "retain=false"):
        assert what in section, what
    for command in ("aws dynamodb delete-table", "aws s3 rb", "aws kms schedule-key-deletion", "aws secretsmanager"):
        assert command in section, command


def test_a_synth_that_cannot_install_the_dependencies_says_what_to_do(tmp_path, monkeypatch):
    import infra.layer

    monkeypatch.setattr(infra.layer, "_installer", lambda: "/bin/false")
    with pytest.raises(infra.layer.LayerDependenciesUnavailable, match="-c powertools_layer=public"):
        stage_dependencies(tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-staged is left for the next synth to reuse
