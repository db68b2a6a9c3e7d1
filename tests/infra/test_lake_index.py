"""The lake index: the schedule starts one state machine (the one definition), whose Lambda fits a new account and
whose Spark job runs on EMR Serverless with a role that reads the lake and writes only the derived tables."""

import json
import tomllib
from pathlib import Path

from exhaust.aws_limits import NEW_ACCOUNT_LAMBDA_MEMORY_MB
from exhaust.lake.spark_index import EMR_RELEASE_LABEL, SPARK_VERSION
from exhaust.pipeline import index_definition as index
from exhaust_devkit.pipeline.runner import LocalRunner

from infra.config import StackSettings
from infra.indexer import SPARK_DOCKERFILE, SYNC_EVENTS_RULE

from .walk import actions, listed, of_type, render, role_statements, state_machine

# What an index writes: the derived tables' folders (its runs and pointers) and the course directory
# (exhaust.lake.directory), sorted as the rendered ARNs are.
WRITTEN = ("_directory", "batch_users", "response_lines", "userinfo_lines")


def indexer(resources):
    (found,) = [
        (logical_id, f)
        for logical_id, f in of_type(resources, "AWS::Lambda::Function").items()
        if logical_id.startswith("LakeIndexIndexer")
    ]
    return found


def index_machine(resources):
    return state_machine(resources, "LakeIndexStateMachine")


def application(resources):
    ((logical_id, app),) = of_type(resources, "AWS::EMRServerless::Application").items()
    return logical_id, app["Properties"]


def job_role(resources) -> str:
    (role_id,) = [
        logical_id
        for logical_id, role in of_type(resources, "AWS::IAM::Role").items()
        if "emr-serverless.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    return role_id


def granted(statements, *wanted: str) -> list[str]:
    return sorted(
        render(resource)
        for statement in statements
        if set(wanted) & set(listed(statement["Action"]))
        for resource in listed(statement["Resource"])
    )


def test_the_schedule_starts_the_state_machine_every_15_minutes_without_retries(resources):
    machine_id, _ = index_machine(resources)
    (schedule,) = [
        s["Properties"]
        for s in of_type(resources, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Ref": machine_id}
    ]
    assert schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
    invoker = role_statements(resources, schedule["Target"]["RoleArn"]["Fn::GetAtt"][0])
    assert [(listed(s["Action"]), listed(s["Resource"])) for s in invoker] == [
        (["states:StartExecution"], [{"Ref": machine_id}])
    ]
    # The indexer is no schedule's target any more: only the state machine invokes it.
    logical_id, _ = indexer(resources)
    targets = [s["Properties"]["Target"]["Arn"] for s in of_type(resources, "AWS::Scheduler::Schedule").values()]
    assert {"Fn::GetAtt": [logical_id, "Arn"]} not in targets


def test_the_state_machine_is_the_index_definition_with_its_resources(resources):
    _, machine = index_machine(resources)
    properties = machine["Properties"]
    deployed = json.loads(properties["DefinitionString"])
    assert deployed == index.index_definition(StackSettings().spark_above_enrolments)
    substitutions = properties["DefinitionSubstitutions"]
    app_id, _ = application(resources)
    logical_id, _ = indexer(resources)
    assert substitutions[index.INDEXER_FUNCTION] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert substitutions[index.SPARK_APPLICATION] == {"Fn::GetAtt": [app_id, "ApplicationId"]}
    assert substitutions[index.SPARK_JOB_ROLE] == {"Fn::GetAtt": [job_role(resources), "Arn"]}
    assert render(substitutions[index.LAKE_URI]).startswith("s3://<StorageLakeBucket")
    assert substitutions[index.REGION] == {"Ref": "AWS::Region"}
    spark = deployed["States"][index.INDEX_WITH_SPARK]
    assert spark["Resource"] == "arn:aws:states:::emr-serverless:startJobRun.sync"
    # The local runner executes exactly the deployed states.
    runner = LocalRunner(definition=deployed, functions={}, substitutions={})
    assert set(runner.definition["States"]) == set(index.index_definition()["States"])


def test_the_threshold_is_a_setting_written_into_the_definition(tmp_path):
    from app import build_app

    app, stack = build_app({"spark_above_enrolments": 1000}, outdir=str(tmp_path), checks=False)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    _, machine = index_machine(template["Resources"])
    deployed = json.loads(machine["Properties"]["DefinitionString"])
    assert deployed["States"][index.LOOK]["Parameters"]["Payload"]["sparkAboveEnrolments"] == 1000


def test_the_indexer_fits_a_new_account_by_default_and_runs_one_at_a_time(resources):
    _, function = indexer(resources)
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    assert properties["MemorySize"] == NEW_ACCOUNT_LAMBDA_MEMORY_MB
    assert properties["ReservedConcurrentExecutions"] == 1
    # No function of the stack asks for more than a new account allows.
    assert max(
        f["Properties"].get("MemorySize", 128) for f in of_type(resources, "AWS::Lambda::Function").values()
    ) <= (NEW_ACCOUNT_LAMBDA_MEMORY_MB)


def test_the_indexer_reads_the_lake_writes_only_its_derived_tables_and_lists_its_own_runs(resources):
    _, function = indexer(resources)
    statements = role_statements(resources, function["Properties"]["Role"]["Fn::GetAtt"][0])
    assert not any(
        action.startswith(("dynamodb:", "kms:", "sqs:", "emr-serverless:")) for action in actions(statements)
    )
    changed = granted(statements, "s3:PutObject", "s3:DeleteObject")
    assert [written.rsplit("/", 2)[-2] for written in changed] == [*WRITTEN]
    assert all(written.startswith("<StorageLakeBucket") for written in changed)
    machine_id, _ = index_machine(resources)
    assert granted(statements, "states:ListExecutions") == [f"<{machine_id}>"]
    # ... from the first scheduled run on.
    (look_policy,) = [p for p in of_type(resources, "AWS::IAM::Policy") if p.startswith("LakeIndexLookPolicy")]
    (schedule,) = [s for s in of_type(resources, "AWS::Scheduler::Schedule").values() if "LookPolicy" in str(s)]
    assert schedule["DependsOn"] == [look_policy]


def test_the_application_auto_starts_stops_and_is_capped_by_the_settings(resources):
    _, app = application(resources)
    settings = StackSettings()
    assert app["ReleaseLabel"] == EMR_RELEASE_LABEL
    assert app["Type"] == "SPARK"
    assert app["Architecture"] == "ARM64"
    assert app["AutoStartConfiguration"] == {"Enabled": True}
    assert app["AutoStopConfiguration"] == {"Enabled": True, "IdleTimeoutMinutes": settings.spark_idle_minutes}
    assert app["MaximumCapacity"] == {
        "Cpu": f"{settings.spark_max_vcpu} vCPU",
        "Memory": f"{settings.spark_max_memory_gb} GB",
    }
    assert "ImageUri" in app["ImageConfiguration"]
    assert app["MonitoringConfiguration"]["CloudWatchLoggingConfiguration"]["Enabled"] is True


def test_local_mode_runs_the_spark_of_the_release_the_application_names():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert f"pyspark=={SPARK_VERSION}" in pyproject["project"]["optional-dependencies"]["spark"]


def test_the_spark_image_is_an_asset_built_from_its_dockerfile_at_deploy(synthesis):
    assets = json.loads(next(synthesis.outdir.glob("*.assets.json")).read_text())
    sources = [image["source"] for image in assets["dockerImages"].values()]
    (spark,) = [source for source in sources if source.get("dockerFile") == SPARK_DOCKERFILE]
    assert spark["dockerBuildArgs"] == {"EMR_RELEASE": EMR_RELEASE_LABEL}
    assert spark["platform"] == "linux/arm64"
    context = synthesis.outdir / spark["directory"]
    assert sorted(path.name for path in (context / "functions").iterdir()) == ["spark.Dockerfile"]
    dockerfile = (context / SPARK_DOCKERFILE).read_text()
    assert "FROM public.ecr.aws/emr-serverless/spark/${EMR_RELEASE}:latest" in dockerfile
    assert dockerfile.rstrip().endswith("USER hadoop:hadoop")


def test_the_job_role_reads_the_lake_and_writes_only_the_derived_tables(resources):
    role_id = job_role(resources)
    app_id, _ = application(resources)
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    (assume,) = trust
    assert assume["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert assume["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::GetAtt": [app_id, "Arn"]}}
    statements = role_statements(resources, role_id)
    assert actions(statements) == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
        "logs:DescribeLogGroups",
    }
    (read,) = granted(statements, "s3:GetObject")
    assert read.startswith("<StorageLakeBucket")
    assert read.endswith("/lake/*")
    changed = granted(statements, "s3:PutObject", "s3:DeleteObject")
    assert [written.rsplit("/", 2)[-2] for written in changed] == [*WRITTEN]
    (listing,) = [s for s in statements if "s3:ListBucket" in listed(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["lake/*"]}}
    logs = granted(statements, "logs:PutLogEvents")
    (log_group,) = logs
    assert log_group.startswith("<LakeIndexSparkJobLogs")


def test_the_state_machine_starts_and_watches_jobs_of_its_application_and_passes_only_the_job_role(resources):
    _, machine = index_machine(resources)
    app_id, _ = application(resources)
    statements = role_statements(resources, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    assert granted(statements, "emr-serverless:StartJobRun") == [f"<{app_id}.Arn>"]
    assert granted(statements, "emr-serverless:GetJobRun") == [f"<{app_id}.Arn>/jobruns/*"]
    assert granted(statements, "emr-serverless:CancelJobRun") == [f"<{app_id}.Arn>/jobruns/*"]
    (pass_role,) = [s for s in statements if "iam:PassRole" in listed(s["Action"])]
    assert pass_role["Resource"] == {"Fn::GetAtt": [job_role(resources), "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}
    (rule,) = granted(statements, "events:PutRule")
    assert rule.endswith(f":rule/{SYNC_EVENTS_RULE}")
    logical_id, _ = indexer(resources)
    assert granted(statements, "lambda:InvokeFunction") == [f"<{logical_id}.Arn>"]
    assert not any(a.startswith(("s3:", "dynamodb:")) for a in actions(statements))


def test_a_failed_index_raises_its_alarm(resources):
    machine_id, _ = index_machine(resources)
    alarms = [
        a["Properties"]
        for logical_id, a in of_type(resources, "AWS::CloudWatch::Alarm").items()
        if logical_id.startswith("MonitoringLakeIndexExecutionsFailedAlarm")
    ]
    (alarm,) = alarms
    metrics = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert {m["MetricName"] for m in metrics} == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert all(m["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}] for m in metrics)
    assert alarm["AlarmActions"]
