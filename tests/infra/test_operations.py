"""Day 2 in the template: alarms on everything that means lost or stalled work, the dashboard, DLQs, redrive."""

import json

import pytest

from .walk import listed, of_type, render, state_machine

# The functions the service cannot lose silently: an error of any of them raises an alarm of its own.
WATCHED_FOR_ERRORS = {
    "Builder": "BuilderFunction",
    "Dispatcher": "PipelineDispatcher",
    "Sweeper": "PipelineSweeper",
    "Finalize": "PipelineFinalize",
    "MarkFailed": "PipelineMarkFailed",
    "Authorizer": "ApiAuthorizerFunction",
    "Producer": "SchedulerProducer",
}


def _alarms(resources):
    return of_type(resources, "AWS::CloudWatch::Alarm")


def _function(resources, prefix: str) -> str:
    (logical_id,) = [
        f for f in of_type(resources, "AWS::Lambda::Function") if f.startswith(prefix) and len(f) == len(prefix) + 8
    ]
    return logical_id


def _metric_stats(alarm_properties) -> list[dict]:
    """Every metric an alarm reads, whether it is a single metric or a math expression over several."""
    if "MetricName" in alarm_properties:
        return [
            {
                "MetricName": alarm_properties["MetricName"],
                "Namespace": alarm_properties["Namespace"],
                "Dimensions": alarm_properties.get("Dimensions", []),
            }
        ]
    return [m["MetricStat"]["Metric"] for m in alarm_properties["Metrics"] if "MetricStat" in m]


def _watched(resources, namespace: str, metric_name: str) -> list[list[dict]]:
    """The dimensions of each (namespace, metric) that some alarm reads."""
    return [
        metric.get("Dimensions", [])
        for alarm in _alarms(resources).values()
        for metric in _metric_stats(alarm["Properties"])
        if metric["Namespace"] == namespace and metric["MetricName"] == metric_name
    ]


@pytest.mark.parametrize(("name", "prefix"), sorted(WATCHED_FOR_ERRORS.items()))
def test_errors_of_every_working_function_raise_an_alarm(resources, name, prefix):
    function = _function(resources, prefix)
    assert [{"Name": "FunctionName", "Value": {"Ref": function}}] in _watched(resources, "AWS/Lambda", "Errors")


def test_every_function_is_watched_for_throttles(resources):
    watched = _watched(resources, "AWS/Lambda", "Throttles")
    functions = of_type(resources, "AWS::Lambda::Function")
    assert len(functions) > 10  # more than one alarm's worth of metrics: the sums are split
    for logical_id in functions:
        assert [{"Name": "FunctionName", "Value": {"Ref": logical_id}}] in watched, logical_id
    for alarm in _alarms(resources).values():
        assert len(alarm["Properties"].get("Metrics", [])) <= 11  # 10 metrics and the expression


def test_every_table_is_watched_for_read_and_write_throttles(resources):
    for name in ("ReadThrottleEvents", "WriteThrottleEvents"):
        watched = _watched(resources, "AWS/DynamoDB", name)
        for logical_id in of_type(resources, "AWS::DynamoDB::Table"):
            assert [{"Name": "TableName", "Value": {"Ref": logical_id}}] in watched, (name, logical_id)


def test_the_requests_queue_oldest_message_raises_an_alarm(resources):
    (alarm,) = [
        a["Properties"]
        for a in _alarms(resources).values()
        if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
    ]
    assert alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0].startswith("StorageRequestsQueue")
    assert 0 < alarm["Threshold"] <= 3600


def test_api_latency_raises_an_alarm(resources):
    (alarm,) = [
        a["Properties"]
        for a in _alarms(resources).values()
        if a["Properties"].get("MetricName") == "Latency" and a["Properties"].get("Namespace") == "AWS/ApiGateway"
    ]
    assert alarm["ExtendedStatistic"] == "p95"
    assert alarm["Threshold"] < 29_000  # below the integration timeout, or it could never fire


def test_every_alarm_notifies_the_topic(resources):
    (topic,) = of_type(resources, "AWS::SNS::Topic")
    for logical_id, alarm in _alarms(resources).items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}], logical_id


def test_every_dead_letter_queue_raises_an_alarm(resources):
    queues = of_type(resources, "AWS::SQS::Queue")
    dead_letter_queues = {q for q in queues if "DeadLetter" in q}
    assert len(dead_letter_queues) == 3  # requests, sweeps, productions
    watched = _watched(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    for logical_id in dead_letter_queues:
        assert [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id, "QueueName"]}}] in watched, logical_id


def test_a_sweep_eventbridge_cannot_deliver_lands_in_its_dead_letter_queue(resources):
    (rule,) = of_type(resources, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert queue.startswith("MonitoringSweeperDeadLetterQueue")
    # A sweep every minute (a failed submit-time queue send is queued again within about a minute); an event
    # older than the next sweep is not worth delivering.
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 60
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in p["Properties"]["Queues"]
    ]
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert "aws:SourceArn" in allow["Condition"]["ArnEquals"]


def test_the_dashboard_shows_every_alarm(resources):
    (dashboard,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "exhaust-dev"
    body = render(dashboard["Properties"]["DashboardBody"])
    for logical_id in _alarms(resources):
        assert f"<{logical_id}.Arn>" in body, logical_id
    widgets = json.loads(body.replace("<", "").replace(">", ""))["widgets"]
    assert widgets[0]["properties"]["title"] == "exhaust alarms"  # the status of all of them, on top
    (work,) = [w["properties"] for w in widgets if w["properties"].get("title", "").startswith("Work")]
    builder = _function(resources, "BuilderFunction")
    assert ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", builder] in [m[:4] for m in work["metrics"]]


def _map_policy_statements(resources):
    (policy,) = [
        p for logical_id, p in of_type(resources, "AWS::IAM::Policy").items() if "DistributedMap" in logical_id
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_workflow_may_redrive_its_map_runs(resources):
    machine_id, _ = state_machine(resources)
    redrive = [s for s in _map_policy_statements(resources) if "states:RedriveExecution" in listed(s["Action"])]
    (resource,) = [render(r) for s in redrive for r in listed(s["Resource"])]
    assert resource.endswith(f":execution:<{machine_id}.Name>/*")


def test_operators_get_a_redrive_policy_for_this_workflow_only(synthesis):
    template = synthesis.template_json()
    resources = template["Resources"]
    machine_id, _ = state_machine(resources)
    policy_id = template["Outputs"]["RedrivePolicyArn"]["Value"]["Ref"]
    statements = resources[policy_id]["Properties"]["PolicyDocument"]["Statement"]
    granted = {(action, render(r)) for s in statements for action in listed(s["Action"]) for r in listed(s["Resource"])}
    executions = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<{machine_id}.Name>:*"
    assert ("states:RedriveExecution", executions) in granted
    assert {action for action, _ in granted} == {
        "states:ListExecutions",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:RedriveExecution",
    }
