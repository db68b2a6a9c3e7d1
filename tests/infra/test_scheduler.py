"""The daily producer: its schedule, its container image and a role limited to its two datasets and the lake."""

import json

from .walk import actions, listed, of_type, render, role_statements


def producer(resources):
    found = {
        logical_id: r
        for logical_id, r in of_type(resources, "AWS::Lambda::Function").items()
        if logical_id.startswith("SchedulerProducer")
    }
    assert len(found) == 1, found
    return next(iter(found.items()))


def test_schedule_invokes_the_producer_daily_with_its_scheduled_time(resources):
    schedules = list(of_type(resources, "AWS::Scheduler::Schedule").values())
    assert len(schedules) == 1
    properties = schedules[0]["Properties"]
    assert properties["ScheduleExpression"] == "cron(30 1 * * ? *)"
    assert properties["ScheduleExpressionTimezone"] == "UTC"
    logical_id, _ = producer(resources)
    target = properties["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert json.loads(target["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    invoker = role_statements(resources, target["RoleArn"]["Fn::GetAtt"][0])
    assert [(listed(s["Action"]), listed(s["Resource"])) for s in invoker] == [
        (["lambda:InvokeFunction"], [{"Fn::GetAtt": [logical_id, "Arn"]}])
    ]


def test_producer_is_a_container_image_with_a_long_timeout(resources):
    _, function = producer(resources)
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    assert properties["Timeout"] == 900
    variables = properties["Environment"]["Variables"]
    for name in ("EXHAUST_LAKE_BUCKET", "EXHAUST_EXHAUST_BUCKET", "EXHAUST_PUBLIC_BUCKET", "EXHAUST_LAKE_PREFIX"):
        assert name in variables


def test_producer_writes_only_its_three_datasets_and_reads_the_lake(resources):
    _, function = producer(resources)
    statements = role_statements(resources, function["Properties"]["Role"]["Fn::GetAtt"][0])
    granted = actions(statements)
    assert {"s3:GetObject", "s3:ListBucket", "s3:PutObject"} <= granted
    assert not any(action.startswith(("dynamodb:", "sqs:", "kms:")) for action in granted)
    assert "s3:DeleteObject" not in granted
    written = sorted(
        render(resource)
        for statement in statements
        if "s3:PutObject" in listed(statement["Action"])
        for resource in listed(statement["Resource"])
    )
    assert len(written) == 3
    assert written[0].endswith("/data-exhaust/summary-channel-exhaust/*")
    assert written[1].endswith("/data-exhaust/summary-rollup/*")
    assert written[2].endswith("/public-summary-rollup/*")
    read = [
        render(resource)
        for statement in statements
        if "s3:GetObject" in listed(statement["Action"])
        for resource in listed(statement["Resource"])
    ]
    assert len(read) == 1
    assert read[0].startswith("<StorageLakeBucket")


def test_a_failed_production_raises_the_alarm(resources):
    logical_id, _ = producer(resources)
    alarms = [
        alarm["Properties"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if {"Name": "FunctionName", "Value": {"Ref": logical_id}} in alarm["Properties"].get("Dimensions", [])
    ]
    assert len(alarms) == 1
    assert alarms[0]["MetricName"] == "Errors"
    assert alarms[0]["AlarmActions"]
