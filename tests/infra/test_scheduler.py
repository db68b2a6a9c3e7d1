"""The daily producer: its schedule, container image and role limited to what it writes (the lake index:
test_lake_index.py)."""

import json

from .walk import actions, listed, of_type, render, role_statements


def scheduled_function(resources, prefix: str):
    found = {
        logical_id: r
        for logical_id, r in of_type(resources, "AWS::Lambda::Function").items()
        if logical_id.startswith(prefix)
    }
    assert len(found) == 1, found
    return next(iter(found.items()))


def producer(resources):
    return scheduled_function(resources, "SchedulerProducer")


def granted_on(statements, *granted: str) -> list[str]:
    """The resources (rendered, sorted) of the statements that grant any of `granted`."""
    return sorted(
        render(resource)
        for statement in statements
        if set(granted) & set(listed(statement["Action"]))
        for resource in listed(statement["Resource"])
    )


def invoke_config(resources, logical_id: str) -> dict:
    (config,) = [
        c["Properties"]
        for c in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    return config


def function_alarms(resources, logical_id: str) -> list[dict]:
    return [
        alarm["Properties"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if {"Name": "FunctionName", "Value": {"Ref": logical_id}} in alarm["Properties"].get("Dimensions", [])
    ]


def schedule_of(resources, function_logical_id: str) -> dict:
    (schedule,) = [
        s["Properties"]
        for s in of_type(resources, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_logical_id, "Arn"]}
    ]
    return schedule


def dead_letter_queue(resources) -> str:
    (logical_id,) = [q for q in of_type(resources, "AWS::SQS::Queue") if q.startswith("MonitoringProducerDeadLetter")]
    return logical_id


def test_schedule_invokes_the_producer_daily_with_its_scheduled_time(resources):
    assert len(of_type(resources, "AWS::Scheduler::Schedule")) == 2  # the producer's and the indexer's
    logical_id, _ = producer(resources)
    properties = schedule_of(resources, logical_id)
    assert properties["ScheduleExpression"] == "cron(30 1 * * ? *)"
    assert properties["ScheduleExpressionTimezone"] == "UTC"
    target = properties["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert json.loads(target["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    dead_letters = {"Fn::GetAtt": [dead_letter_queue(resources), "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": dead_letters}
    invoker = role_statements(resources, target["RoleArn"]["Fn::GetAtt"][0])
    assert [(listed(s["Action"]), listed(s["Resource"])) for s in invoker] == [
        (["lambda:InvokeFunction"], [{"Fn::GetAtt": [logical_id, "Arn"]}]),
        (["sqs:SendMessage"], [dead_letters]),
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
    assert not any(action.startswith(("dynamodb:", "kms:")) for action in granted)
    # SQS: only its own dead-letter queue, the on-failure destination of its asynchronous invocations.
    queues = {render(r) for s in statements if "sqs:SendMessage" in listed(s["Action"]) for r in listed(s["Resource"])}
    assert queues == {f"<{dead_letter_queue(resources)}.Arn>"}
    assert "s3:DeleteObject" not in granted
    written = granted_on(statements, "s3:PutObject")
    assert len(written) == 3
    assert written[0].endswith("/data-exhaust/summary-channel-exhaust/*")
    assert written[1].endswith("/data-exhaust/summary-rollup/*")
    assert written[2].endswith("/public-summary-rollup/*")
    read = granted_on(statements, "s3:GetObject")
    assert len(read) == 1
    assert read[0].startswith("<StorageLakeBucket")


def test_a_failed_production_is_kept_in_the_producers_dead_letter_queue(resources):
    logical_id, _ = producer(resources)
    config = invoke_config(resources, logical_id)
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [dead_letter_queue(resources), "Arn"]
    }
    assert config["MaximumRetryAttempts"] == 2


def test_the_schedules_have_their_own_group_watched_for_failures(resources):
    (group_id, group) = next(iter(of_type(resources, "AWS::Scheduler::ScheduleGroup").items()))
    for schedule in of_type(resources, "AWS::Scheduler::Schedule").values():
        assert schedule["Properties"]["GroupName"] == {"Ref": group_id}
    (alarm,) = [
        a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if "AWS/Scheduler" in str(a["Properties"].get("Metrics"))
    ]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {"TargetErrorCount", "InvocationDroppedCount"} <= names
    for metric in alarm["Metrics"]:
        if "MetricStat" in metric:
            dimensions = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimensions == [{"Name": "ScheduleGroup", "Value": group["Properties"]["Name"]}]


def test_a_failed_production_raises_the_alarm(resources):
    logical_id, _ = producer(resources)
    alarms = function_alarms(resources, logical_id)
    assert len(alarms) == 1
    assert alarms[0]["MetricName"] == "Errors"
    assert alarms[0]["AlarmActions"]


def test_the_producer_may_invalidate_exactly_the_public_distribution(resources):
    _, function = producer(resources)
    (distribution,) = of_type(resources, "AWS::CloudFront::Distribution")
    assert function["Properties"]["Environment"]["Variables"]["EXHAUST_CDN_DISTRIBUTION_ID"] == {"Ref": distribution}
    statements = role_statements(resources, function["Properties"]["Role"]["Fn::GetAtt"][0])
    invalidation = [s for s in statements if any(a.startswith("cloudfront:") for a in listed(s["Action"]))]
    assert [(listed(s["Action"]), [render(r) for r in listed(s["Resource"])]) for s in invalidation] == [
        (
            ["cloudfront:CreateInvalidation"],
            [f"arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<{distribution}>"],
        )
    ]
    functions = of_type(resources, "AWS::Lambda::Function")
    others = [f["Properties"] for logical_id, f in functions.items() if not logical_id.startswith("SchedulerProducer")]
    assert all("EXHAUST_CDN_DISTRIBUTION_ID" not in f["Environment"]["Variables"] for f in others)
