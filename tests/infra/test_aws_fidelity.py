"""What AWS does that moto and the local runner do not check, read off the synthesized template (issue 13)."""

import re
from pathlib import Path

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from exhaust.pipeline.definition import BUILD_BATCHES

from infra.config import StackSettings
from infra.service_function import API_GATEWAY_INTEGRATION_TIMEOUT

from .test_pipeline import deployed_definition
from .walk import listed, methods, of_type, render

REPO_ROOT = Path(__file__).resolve().parents[2]
# Function logical-id prefix -> its reserved concurrency with the default settings.
RESERVED_BY_DEFAULT = {
    "BuilderFunction": 100,
    "PipelineFinalize": 5,
    "PipelineMarkFailed": 5,
    "PipelineSweeper": 1,
    "LakeIndexIndexer": 1,
}
SCHEMA_REGION = "us-east-1"


def test_step_functions_logs_to_a_vendedlogs_group(resources):
    machines = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    assert len(machines) == 2  # the exhaust workflow and the lake index
    for machine in machines:
        (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
        log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        name = resources[log_group]["Properties"]["LogGroupName"]
        assert name.startswith("/aws/vendedlogs/states/")
        assert "exhaust-dev" in name  # one per stack: several stacks share an account


def test_cloudwatch_may_publish_to_the_alarm_topic_over_tls(resources):
    (topic_id,) = of_type(resources, "AWS::SNS::Topic")
    (policy,) = [
        p["Properties"]
        for p in of_type(resources, "AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    statements = policy["PolicyDocument"]["Statement"]
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert render(publish["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":alarm:*")
    assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _api_function_ids(resources) -> set[str]:
    """Every Lambda API Gateway waits for: route integrations and the authorizer."""
    ids = set()
    for method in methods(resources).values():
        if method["Integration"]["Type"] == "MOCK":  # the ANY refusals: API Gateway answers them itself
            continue
        uri = render(method["Integration"]["Uri"])
        ids |= set(re.findall(r"<(\w+)\.Arn>", uri))
    for authorizer in of_type(resources, "AWS::ApiGateway::Authorizer").values():
        ids |= set(re.findall(r"<(\w+)\.Arn>", render(authorizer["Properties"]["AuthorizerUri"])))
    return ids


def test_api_functions_stop_before_the_gateway_stops_waiting(resources):
    ids = _api_function_ids(resources)
    assert len(ids) >= 10  # every route's function and the authorizer
    limit = API_GATEWAY_INTEGRATION_TIMEOUT.to_seconds()
    assert limit == 29
    timeouts = {logical_id: resources[logical_id]["Properties"]["Timeout"] for logical_id in ids}
    assert all(timeout < limit for timeout in timeouts.values()), timeouts


def test_the_callback_secret_is_retained_like_the_tables(resources):
    (secret,) = of_type(resources, "AWS::SecretsManager::Secret").values()
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    for table in of_type(resources, "AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"


def test_api_gateway_execution_logs_have_a_retention(resources):
    (api_id,) = of_type(resources, "AWS::ApiGateway::RestApi")
    (stage_id, stage) = next(iter(of_type(resources, "AWS::ApiGateway::Stage").items()))
    (group_id, group) = next(
        (logical_id, r)
        for logical_id, r in of_type(resources, "AWS::Logs::LogGroup").items()
        if "API-Gateway-Execution-Logs_" in render(r["Properties"].get("LogGroupName", ""))
    )
    stage_name = stage["Properties"]["StageName"]
    assert render(group["Properties"]["LogGroupName"]) == f"API-Gateway-Execution-Logs_<{api_id}>/{stage_name}"
    assert group["Properties"]["RetentionInDays"] == 90
    assert group_id in listed(stage.get("DependsOn", [])), f"{stage_id} must wait for its log group"


def _taggable(kind: str) -> bool:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, kind).schema
    return "Tags" in schema.get("properties", {})


def _tags(properties: dict) -> dict[str, str]:
    tags = properties.get("Tags", {})
    if isinstance(tags, list):  # most types; a few (SSM parameters...) take a map
        return {tag["Key"]: tag["Value"] for tag in tags}
    return dict(tags)


def test_every_taggable_resource_carries_project_and_stage(resources):
    kinds = {r["Type"] for r in resources.values() if not r["Type"].startswith("Custom::")}
    taggable = {kind for kind in kinds if _taggable(kind)}
    assert {"AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue"} <= taggable
    expected = {"project": "exhaust", "stage": "dev"}.items()
    untagged = {
        logical_id: _tags(r["Properties"])
        for logical_id, r in resources.items()
        if r["Type"] in taggable and not expected <= _tags(r["Properties"]).items()
    }
    assert not untagged, untagged


def _reserved(resources) -> dict[str, int]:
    return {
        logical_id: f["Properties"]["ReservedConcurrentExecutions"]
        for logical_id, f in of_type(resources, "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in f["Properties"]
    }


def test_the_builder_and_the_ending_steps_have_reserved_concurrency(resources):
    reserved = _reserved(resources)
    by_prefix = {prefix: [v for k, v in reserved.items() if k.startswith(prefix)] for prefix in RESERVED_BY_DEFAULT}
    assert by_prefix == {prefix: [value] for prefix, value in RESERVED_BY_DEFAULT.items()}
    assert len(reserved) == len(RESERVED_BY_DEFAULT)  # API functions share the account's unreserved pool
    definition, _ = deployed_definition(resources)
    (builder,) = by_prefix["BuilderFunction"]
    assert builder >= definition["States"][BUILD_BATCHES]["MaxConcurrency"]  # one request never throttles itself


def test_the_reservations_are_the_ones_the_settings_compute_and_docs_state(resources):
    settings = StackSettings()
    assert sum(_reserved(resources).values()) == sum(settings.reserved_concurrency.values()) == 112
    assert settings.concurrency_quota_needed == 212
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert f"at least {settings.concurrency_quota_needed}" in deploy
    assert f"{sum(settings.reserved_concurrency.values())} reserved" in deploy


def test_no_reservation_at_all_when_the_account_cannot_afford_one(tmp_path):
    from app import build_app

    app, stack = build_app({"builder_reserved_concurrency": 0}, outdir=str(tmp_path), checks=False)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    assert _reserved(template["Resources"]) == {}


def test_deploy_check_reads_the_reservations_the_settings_compute(synthesis):
    from exhaust_devkit.deploy_check import needs_from_template

    needs = needs_from_template(synthesis.template_path)
    settings = StackSettings()
    assert needs.reserved == settings.reserved_concurrency
    assert needs.concurrency_quota_needed == settings.concurrency_quota_needed
    assert needs.spark_max_vcpu == settings.spark_max_vcpu
