"""The synthesized pipeline: the state machine is the one workflow definition, wired to its functions."""

import json

from exhaust.pipeline import definition as wf
from exhaust_devkit.pipeline.runner import LocalRunner

from infra.config import StackSettings
from tests.memory_objects import MemoryObjects

from .walk import actions, listed, of_type, render, role_statements, state_machine


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
    _, machine = state_machine(resources)
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
    assert set(substitutions) == {*wf.FUNCTION_PLACEHOLDERS, wf.BUCKET_PLACEHOLDER}
    tasks = wf.task_functions(definition)
    builder = substitutions[tasks[wf.BUILD_BATCH]]["Fn::GetAtt"][0]
    plan = substitutions[tasks[wf.PLAN]]["Fn::GetAtt"][0]
    assert builder.startswith("BuilderFunction")
    assert plan.startswith("BuilderPlanFunction")
    for image_function in (builder, plan):  # both read the lake with pyarrow: the builder image, a handler each
        assert resources[image_function]["Properties"]["PackageType"] == "Image"
    for placeholder in (wf.FINALIZE_FUNCTION, wf.MARK_FAILED_FUNCTION):
        function = resources[substitutions[placeholder]["Fn::GetAtt"][0]]
        assert function["Properties"]["Handler"] == "handler.handler"


def test_the_local_runner_executes_exactly_the_deployed_states(resources):
    definition, _ = deployed_definition(resources)
    assert tuple(definition["States"]) == wf.TOP_LEVEL_STATES
    assert tuple(definition["States"][wf.BUILD_BATCHES]["ItemProcessor"]["States"]) == wf.ITEM_STATES
    visited = []
    objects = MemoryObjects()

    def plan(event):
        visited.append("plan")
        return objects.plan("bucket", ["b1", "b2"])

    def builder(event):
        visited.append("build")
        return {"batchId": event["batchId"], "file": {"rows": 1}}

    def finalize(event):
        visited.append("finalize")
        return {}

    runner = LocalRunner(
        definition,
        {
            wf.PLAN_FUNCTION: plan,
            wf.BUILDER_FUNCTION: builder,
            wf.FINALIZE_FUNCTION: finalize,
            wf.MARK_FAILED_FUNCTION: finalize,
        },
        objects=objects,
        substitutions={wf.BUCKET_PLACEHOLDER: "bucket"},
    )
    runner.run("arn:aws:states:us-east-1:1:execution:m:e", {"requestId": "R", "attempt": 0})
    assert visited == ["plan", "build", "build", "finalize"]


def test_the_map_reads_its_items_and_writes_its_results_in_the_exhaust_bucket(resources):
    definition, properties = deployed_definition(resources)
    build = definition["States"][wf.BUILD_BATCHES]
    assert "ItemsPath" not in build
    assert build["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert build["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert build["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    placeholder = "${" + wf.BUCKET_PLACEHOLDER + "}"
    assert build["ItemReader"]["Parameters"]["Bucket"] == build["ResultWriter"]["Parameters"]["Bucket"] == placeholder
    (bucket,) = [i for i in of_type(resources, "AWS::S3::Bucket") if i.startswith("StorageExhaustBucket")]
    assert properties["DefinitionSubstitutions"][wf.BUCKET_PLACEHOLDER] == {"Ref": bucket}
    # Finalize gets the results' manifest key, not the results.
    assert definition["States"][wf.FINALIZE]["Parameters"]["Payload"]["mapResults.$"] == "$.results.ResultWriterDetails"


def test_the_state_machine_role_reads_plans_and_writes_map_results_only(resources):
    _, properties = deployed_definition(resources)
    role = properties["RoleArn"]["Fn::GetAtt"][0]
    granted = [
        s
        for p in of_type(resources, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if {"Ref": role} in p["Properties"].get("Roles", [])
    ]
    s3 = {
        render(r): set(listed(s["Action"])) for s in granted for r in listed(s["Resource"]) if "s3:" in str(s["Action"])
    }
    (plans,) = [arn for arn in s3 if arn.endswith(f"/{wf.PLANS_PREFIX}*")]
    (results,) = [arn for arn in s3 if arn.endswith(f"/{wf.MAP_RESULTS_PREFIX}/*")]
    assert s3[plans] == {"s3:GetObject"}
    assert s3[results] == {"s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"}
    assert set(s3) == {plans, results}
    assert "StorageExhaustBucket" in plans
    assert "StorageExhaustBucket" in results


def test_plan_writes_and_finalize_reads_only_the_pipeline_files_they_need(resources):
    plan = statements_of(resources, function_id(resources, "BuilderPlanFunction"))
    builder = statements_of(resources, function_id(resources, "BuilderFunction"))
    finalize = statements_of(resources, function_id(resources, "PipelineFinalize"))

    def object_actions(statements, suffix):
        return {
            action
            for s in statements
            for r in listed(s["Resource"])
            if render(r).endswith(suffix)
            for action in listed(s["Action"])
        }

    assert object_actions(plan, f"/{wf.PLANS_PREFIX}*") == {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert object_actions(finalize, f"/{wf.MAP_RESULTS_PREFIX}/*") == {"s3:GetObject"}
    assert object_actions(plan, f"/{wf.MAP_RESULTS_PREFIX}/*") == set()
    assert object_actions(builder, f"/{wf.PLANS_PREFIX}*") == set()
    assert object_actions(builder, f"/{wf.MAP_RESULTS_PREFIX}/*") == set()


def test_pipeline_files_expire_after_a_week(resources):
    (bucket,) = [b for i, b in of_type(resources, "AWS::S3::Bucket").items() if i.startswith("StorageExhaustBucket")]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Prefix") == "pipeline/"]
    assert rule["ExpirationInDays"] == 7
    assert rule["Status"] == "Enabled"


def test_state_machine_is_standard_logged_and_traced(resources):
    _, properties = deployed_definition(resources)
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    role = properties["RoleArn"]["Fn::GetAtt"][0]
    granted = role_statements(resources, role)
    invoke = [s for s in granted if "lambda:InvokeFunction" in listed(s["Action"])]
    functions = dict(properties["DefinitionSubstitutions"])
    assert set(functions) - set(wf.FUNCTION_PLACEHOLDERS) == {wf.BUCKET_PLACEHOLDER}
    assert {render(r) for s in invoke for r in listed(s["Resource"])} == {
        render(functions[name]) for name in wf.FUNCTION_PLACEHOLDERS
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


def test_builder_writes_only_request_outputs_and_decrypts_the_key_and_plan_writes_only_plans(resources):
    def written(statements):
        arns = {render(r) for s in statements if "s3:PutObject" in listed(s["Action"]) for r in listed(s["Resource"])}
        return {arn.rpartition(">")[2] for arn in arns}

    builder = statements_of(resources, function_id(resources, "BuilderFunction"))
    assert {"kms:Decrypt", "s3:PutObject", "dynamodb:PutItem"} <= actions(builder)
    assert written(builder) == {"/requests/*"}
    plan = statements_of(resources, function_id(resources, "BuilderPlanFunction"))
    assert written(plan) == {f"/{wf.PLANS_PREFIX}*"}


def test_finalize_knows_the_builders_limits_as_deployed(resources):
    """Finalize names them in the statusMessage of a request whose batch outgrew the builder (Lambda.Unknown)."""
    builder = resources[function_id(resources, "BuilderFunction")]["Properties"]
    variables = resources[function_id(resources, "PipelineFinalize")]["Properties"]["Environment"]["Variables"]
    assert variables["EXHAUST_BUILDER_TIMEOUT_SECONDS"] == str(builder["Timeout"])
    assert variables["EXHAUST_BUILDER_MEMORY_MB"] == str(builder["MemorySize"])


def test_finalize_mark_failed_and_the_sweeper_publish_events_and_only_queue_callbacks(resources):
    for prefix in ("PipelineFinalize", "PipelineMarkFailed", "PipelineSweeper"):
        statements = statements_of(resources, function_id(resources, prefix))
        granted = actions(statements)
        assert "events:PutEvents" in granted
        assert "secretsmanager:GetSecretValue" not in granted  # they never sign nor send a callback
        queues = {
            render(r) for s in statements if "sqs:SendMessage" in listed(s["Action"]) for r in listed(s["Resource"])
        }
        assert any(q.startswith("<PipelineCallbacksQueue") for q in queues), (prefix, queues)
        variables = resources[function_id(resources, prefix)]["Properties"]["Environment"]["Variables"]
        assert "EXHAUST_CALLBACK_QUEUE_URL" in variables
        assert not {"EXHAUST_CALLBACK_SECRET", "EXHAUST_CALLBACK_SECRET_ARN"} & set(variables)


def test_callbacks_are_delivered_by_their_own_function_from_a_fifo_queue_with_least_privilege(resources):
    """Issue 28: one partner's silent endpoint must hold only its own channel's callbacks."""
    deliverer = function_id(resources, "PipelineCallbacksFunction")
    (mapping,) = [
        m["Properties"]
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": deliverer}
    ]
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    assert queue_id.startswith("PipelineCallbacksQueue")
    assert resources[queue_id]["Properties"]["FifoQueue"] is True  # grouped by channel: one at a time per channel
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    function = resources[deliverer]["Properties"]
    assert function["Timeout"] * 6 <= resources[queue_id]["Properties"]["VisibilityTimeout"]
    statements = statements_of(resources, deliverer)
    granted = actions(statements)
    assert granted - {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    } == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    tables = {render(r) for s in statements if "dynamodb:PutItem" in listed(s["Action"]) for r in listed(s["Resource"])}
    (table,) = tables
    assert table.startswith("<StorageRequestsTable")  # the requests table, by key: no index, no scan


def test_failed_executions_and_builder_errors_raise_alarms(resources):
    alarms = [a["Properties"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]
    descriptions = " ".join(a.get("AlarmDescription", "") for a in alarms)
    assert "workflow executions failed" in descriptions
    assert "Builder function reported errors" in descriptions


def test_batch_records_expire_by_the_requests_tables_ttl(resources):
    (table,) = [
        t for i, t in of_type(resources, "AWS::DynamoDB::Table").items() if i.startswith("StorageRequestsTable")
    ]
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
