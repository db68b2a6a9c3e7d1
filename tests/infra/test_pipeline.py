"""The synthesized pipeline: the state machine is the one workflow definition, wired to its functions."""

import json

from exhaust.pipeline import definition as wf
from exhaust.pipeline.runner import LocalRunner

from infra.config import StackSettings

from .walk import actions, listed, of_type, render, role_statements


def only(resources, kind):
    (found,) = of_type(resources, kind).items()
    return found


def function_id(resources, prefix):
    matches = [
        logical_id
        for logical_id in of_type(resources, "AWS::Lambda::Function")
        if logical_id.startswith(prefix) and len(logical_id) == len(prefix) + 8
    ]
    assert len(matches) == 1, (prefix, matches)
    return matches[0]


def statements_of(resources, function_logical_id):
    role = resources[function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_statements(resources, role)


def deployed_definition(resources):
    _, machine = only(resources, "AWS::StepFunctions::StateMachine")
    return json.loads(machine["Properties"]["DefinitionString"]), machine["Properties"]


def test_state_machine_is_the_workflow_definition_with_the_configured_map_concurrency(resources):
    definition, _ = deployed_definition(resources)
    assert definition == wf.workflow_definition(StackSettings().map_max_concurrency)
    build = definition["States"][wf.BUILD_BATCHES]
    assert build["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert build["MaxConcurrency"] == StackSettings().map_max_concurrency


def test_the_distributed_map_invokes_the_container_image_builder(resources):
    definition, properties = deployed_definition(resources)
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == set(wf.FUNCTION_PLACEHOLDERS)
    tasks = wf.task_functions(definition)
    builder = substitutions[tasks[wf.BUILD_BATCH]]["Fn::GetAtt"][0]
    assert resources[builder]["Properties"]["PackageType"] == "Image"
    assert tasks[wf.PLAN] == tasks[wf.BUILD_BATCH]  # both read the lake with pyarrow
    for placeholder in (wf.FINALIZE_FUNCTION, wf.MARK_FAILED_FUNCTION):
        function = resources[substitutions[placeholder]["Fn::GetAtt"][0]]
        assert function["Properties"]["Handler"] == "handler.handler"


def test_the_local_runner_executes_exactly_the_deployed_states(resources):
    definition, _ = deployed_definition(resources)
    assert tuple(definition["States"]) == wf.TOP_LEVEL_STATES
    assert tuple(definition["States"][wf.BUILD_BATCHES]["ItemProcessor"]["States"]) == wf.ITEM_STATES
    visited = []

    def builder(event):
        visited.append(event["step"])
        return {"batches": ["b1", "b2"]} if event["step"] == "plan" else {"batchId": event["batchId"], "rows": 1}

    def finalize(event):
        visited.append("finalize")
        return {}

    runner = LocalRunner(
        definition,
        {wf.BUILDER_FUNCTION: builder, wf.FINALIZE_FUNCTION: finalize, wf.MARK_FAILED_FUNCTION: finalize},
    )
    runner.run("arn:aws:states:us-east-1:1:execution:m:e", {"requestId": "R", "attempt": 0})
    assert visited == ["plan", "build", "build", "finalize"]


def test_state_machine_is_standard_logged_and_traced(resources):
    _, properties = deployed_definition(resources)
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    role = properties["RoleArn"]["Fn::GetAtt"][0]
    granted = role_statements(resources, role)
    invoke = [s for s in granted if "lambda:InvokeFunction" in listed(s["Action"])]
    assert {render(r) for s in invoke for r in listed(s["Resource"])} == {
        render(value) for value in properties["DefinitionSubstitutions"].values()
    }
    assert "states:StartExecution" in actions(
        [
            s
            for p in of_type(resources, "AWS::IAM::Policy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if {"Ref": role} in p["Properties"].get("Roles", [])
        ]
    )


def test_dispatcher_consumes_the_queue_reporting_partial_batch_failures(resources):
    dispatcher = function_id(resources, "PipelineDispatcher")
    (mapping,) = [
        m["Properties"]
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": dispatcher}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith("StorageRequestsQueue")
    granted = actions(statements_of(resources, dispatcher))
    assert {"states:StartExecution", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"} <= granted
    assert "s3:PutObject" not in granted


def test_sweeper_runs_on_a_schedule(resources):
    sweeper = function_id(resources, "PipelineSweeper")
    rules = [r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()]
    (rule,) = [r for r in rules if any(t["Arn"] == {"Fn::GetAtt": [sweeper, "Arn"]} for t in r["Targets"])]
    assert rule["ScheduleExpression"].startswith("rate(")
    granted = actions(statements_of(resources, sweeper))
    assert {"states:DescribeExecution", "states:StopExecution", "sqs:SendMessage", "events:PutEvents"} <= granted


def test_builder_writes_only_request_outputs_and_decrypts_the_key(resources):
    builder = function_id(resources, "BuilderFunction")
    statements = statements_of(resources, builder)
    granted = actions(statements)
    assert {"kms:Decrypt", "s3:PutObject", "dynamodb:PutItem"} <= granted
    for statement in statements:
        if "s3:PutObject" in listed(statement["Action"]):
            assert all(render(r).endswith("/requests/*") for r in listed(statement["Resource"]))


def test_finalize_and_mark_failed_publish_events_and_read_the_callback_secret(resources):
    for prefix in ("PipelineFinalize", "PipelineMarkFailed"):
        granted = actions(statements_of(resources, function_id(resources, prefix)))
        assert {"events:PutEvents", "secretsmanager:GetSecretValue"} <= granted
        variables = resources[function_id(resources, prefix)]["Properties"]["Environment"]["Variables"]
        assert "EXHAUST_CALLBACK_SECRET_ARN" in variables
        assert "EXHAUST_CALLBACK_SECRET" not in variables  # the secret itself never sits in the environment


def test_failed_executions_and_builder_errors_raise_alarms(resources):
    alarms = [a["Properties"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]
    descriptions = " ".join(a.get("AlarmDescription", "") for a in alarms)
    assert "workflow executions failed" in descriptions
    assert "Builder function reported errors" in descriptions
