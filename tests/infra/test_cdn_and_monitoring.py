"""The CDN in front of the public bucket, the outputs, and the alarms."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda, aws_sqs, aws_stepfunctions
from aws_cdk.assertions import Match, Template

from infra.monitoring import Monitoring

from .walk import of_type, public_distribution, service_functions

SECURITY_HEADERS_POLICY_ID = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # AWS managed "SecurityHeadersPolicy"


def _distribution(resources):
    distribution = resources[public_distribution(resources)]
    return distribution["Properties"]["DistributionConfig"]


def test_cdn_reads_the_public_bucket_through_origin_access_control(resources):
    config = _distribution(resources)
    (origin,) = config["Origins"]
    (oac_id,) = [name for name in of_type(resources, "AWS::CloudFront::OriginAccessControl") if name.startswith("Cdn")]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""  # no legacy OAI
    assert origin["DomainName"]["Fn::GetAtt"][0].startswith("StoragePublicBucket")
    oac = resources[oac_id]["Properties"]["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always"


def test_only_the_distribution_may_read_the_public_bucket(resources):
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(resources, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"]["Ref"].startswith("StoragePublicBucket")
    ]
    (statements,) = policies
    (grant,) = [s for s in statements if s["Effect"] == "Allow"]
    assert grant["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    # Reading, and listing so that a key not produced yet answers 404 rather than 403 (issue 27 item 5).
    assert grant["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert "AWS:SourceArn" in grant["Condition"]["StringEquals"]


def test_cdn_is_https_only_logged_and_sends_security_headers(resources):
    config = _distribution(resources)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["ResponseHeadersPolicyId"] == SECURITY_HEADERS_POLICY_ID
    assert config["Logging"]["Bucket"]["Fn::GetAtt"][0].startswith("StorageAccessLogsBucket")


def test_functions_get_the_cdn_base_url(resources):
    distribution_id = public_distribution(resources)
    for function in service_functions(resources).values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["EXHAUST_CDN_BASE_URL"] == {
            "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]
        }


def test_outputs_have_pinned_logical_ids(synthesis):
    outputs = synthesis.template_json()["Outputs"]
    assert {"ApiUrl", "CdnDomainName", "AlarmTopicArn", "CredentialsTableName", "LakeBucketName"} <= set(outputs)
    distribution_id = public_distribution(synthesis.template_json()["Resources"])
    assert outputs["CdnDomainName"]["Value"] == {"Fn::GetAtt": [distribution_id, "DomainName"]}


def test_the_stack_alarms_on_dead_letters_and_api_5xx(template):
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "Dimensions": [{"Name": "QueueName", "Value": Match.object_like({"Fn::GetAtt": Match.any_value()})}],
            "AlarmActions": [{"Ref": Match.string_like_regexp("MonitoringAlarmTopic")}],
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "Statistic": "Average", "Threshold": 0.05},
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


@pytest.fixture(scope="module")
def probe():
    """Monitoring alone in a small stack: what the pipeline wires (state machine, builder), with an e-mail."""
    stack = cdk.Stack(cdk.App())
    monitoring = Monitoring(
        stack, "Monitoring", dead_letter_queue=aws_sqs.Queue(stack, "Dlq"), alarm_email="ops@example.org"
    )
    machine = aws_stepfunctions.StateMachine(
        stack,
        "Machine",
        definition_body=aws_stepfunctions.DefinitionBody.from_chainable(aws_stepfunctions.Pass(stack, "Step")),
    )
    function = aws_lambda.Function(
        stack,
        "Builder",
        runtime=aws_lambda.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=aws_lambda.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    monitoring.watch_state_machine(machine)
    monitoring.watch_function(function)
    return Template.from_stack(stack)


def test_failed_executions_raise_an_alarm(probe):
    alarm = probe.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"Metrics": Match.any_value()}})
    (properties,) = (a["Properties"] for a in alarm.values())
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in properties["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert properties["Threshold"] == 0


def test_builder_errors_raise_an_alarm(probe):
    probe.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum", "Threshold": 0},
    )


def test_alarm_email_subscribes_only_when_set(probe, template):
    probe.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.org"})
    template.resource_count_is("AWS::SNS::Subscription", 0)  # the default settings have no alarm_email
