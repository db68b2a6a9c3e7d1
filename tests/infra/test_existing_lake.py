"""An existing lake bucket (lake_bucket_name, lake_prefix): read only under its prefix, and still nag-clean."""

import json

import aws_cdk as cdk
from aws_cdk import aws_lambda, aws_logs
from cdk_nag import AwsSolutionsChecks

from app import default_context
from infra.config import StackSettings
from infra.grants import LAKE_READ, apply_grants
from infra.service_function import acknowledge_runtime, enable_active_tracing, function_role
from infra.storage import Storage

from .walk import of_type, render


def test_an_existing_lake_is_read_only_under_its_prefix_with_an_exact_acknowledgement(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context=default_context())
    stack = cdk.Stack(app, "Probe")
    storage = Storage(
        stack, "Storage", settings=StackSettings(lake_bucket_name="partner-lake", lake_prefix="warehouse/")
    )
    logs = aws_logs.LogGroup(stack, "Logs", retention=aws_logs.RetentionDays.ONE_WEEK)
    function = aws_lambda.Function(
        stack,
        "Reader",
        runtime=aws_lambda.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=aws_lambda.Code.from_inline("def handler(event, context):\n    return None\n"),
        role=function_role(stack, "ReaderRole", logs),
        log_group=logs,
    )
    enable_active_tracing(function)
    acknowledge_runtime(function)
    apply_grants(function, [LAKE_READ], storage)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    app.synth()  # raises when a finding is not acknowledged, e.g. if the IAM5 id were rendered wrong

    resources = json.loads((tmp_path / "Probe.template.json").read_text())["Resources"]
    assert not any(logical_id.startswith("StorageLakeBucket") for logical_id in resources)
    (policy,) = (p for i, p in of_type(resources, "AWS::IAM::Policy").items() if i.startswith("ReaderRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["warehouse/*"]}}
    assert render(listing["Resource"]).endswith(":s3:::partner-lake")
    (reading,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert render(reading["Resource"]).endswith(":s3:::partner-lake/warehouse/*")
    report = json.loads((tmp_path / "validation-report.json").read_text())
    acknowledged = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["suppressedViolations"]}
    assert "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::partner-lake/warehouse/*]" in acknowledged
