"""The lake index: a Step Functions state machine the schedule starts, the indexer Lambda, and the Spark job on EMR
Serverless for lakes too large for a Lambda (docs/lake.md, "The indexer").

    EventBridge Scheduler (every 15 minutes) --> state machine (exhaust.pipeline.index_definition)
        Look (indexer Lambda) --> IndexInLambda (indexer Lambda) | IndexWithSpark (emr-serverless:startJobRun.sync)
        --> Recorded | RecordFailure --> IndexFailed (alarmed)

The Spark job runs in the stack's EMR Serverless application from a custom image built at `cdk deploy` like the
functions' images: functions/spark.Dockerfile starts FROM the EMR release's public Spark image and adds
Python 3.11 with the exhaust package (EMR Serverless user guide, "Customizing an EMR Serverless image"). CDK pushes
it to the bootstrap's container assets repository, whose policy lets EMR Serverless pull from it since bootstrap
template version 26 (docs/deploy.md; `exhaust deploy-check` reads the version).

The job's role reads the lake's tables and writes only the derived tables (infra/grants.py), and its logs; the
state machine may start and watch jobs of this one application and pass only that role.
"""

from __future__ import annotations

import json

from aws_cdk import (
    CfnOutput,
    Duration,
    IgnoreMode,
    RemovalPolicy,
    Stack,
    aws_ecr_assets,
    aws_emrserverless,
    aws_iam,
    aws_logs,
    aws_scheduler,
    aws_stepfunctions,
)
from constructs import Construct
from exhaust.lake.spark_index import EMR_RELEASE_LABEL
from exhaust.pipeline import index_definition as index

from infra.config import StackSettings
from infra.grants import INDEXER_GRANTS, LAKE_READ, WriteDerivedTables, apply_grants, statements
from infra.image_function import ImageServiceFunction
from infra.layer import REPO_ROOT
from infra.monitoring import Monitoring
from infra.nag import acknowledge, iam5_resource
from infra.pipeline import VENDED_LOGS_PREFIX
from infra.storage import Storage

INDEXER_FUNCTION = "indexer"
# How soon after a lake load the derived tables are rewritten; a look while they are fresh is a few listings.
INDEX_EVERY = "rate(15 minutes)"
# A look missed is made up by the next one: the schedule neither retries nor keeps it.
SCHEDULE_MAX_EVENT_AGE = Duration.minutes(1)
# The indexer's steps: a look takes seconds; an index in Lambda up to Lambda's 15 minutes.
INDEXER_TIMEOUT = Duration.minutes(15)
# Longer than the Spark job's own timeout, so a job that hangs is cancelled by EMR Serverless first.
EXECUTION_TIMEOUT = Duration.minutes(index.SPARK_TIMEOUT_MINUTES + 30)
SPARK_DOCKERFILE = "functions/spark.Dockerfile"
# The rule Step Functions manages to learn that a job run ended (Step Functions developer guide, "IAM policies for
# Amazon EMR Serverless", StartJobRun, Run a Job (.sync)).
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"


def spark_build_context() -> list[str]:
    """Docker ignore rules of the Spark image: the package, its metadata and the Dockerfile, nothing else."""
    return [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!requirements.lock",
        "!layers/exhaust",
        "layers/exhaust/**/__pycache__",
        f"!{SPARK_DOCKERFILE}",
    ]


class LakeIndex(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        storage: Storage,
        environment: dict[str, str],
        monitoring: Monitoring,
        schedule_group: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = ImageServiceFunction(
            self,
            "Indexer",
            function=INDEXER_FUNCTION,
            environment=environment,
            description="exhaust indexer: looks at the lake's derived tables, indexes a small lake, records runs",
            memory_size=settings.indexer_memory_mb,
            timeout=INDEXER_TIMEOUT,
            reserved_concurrent_executions=settings.reserved_concurrency.get(INDEXER_FUNCTION),
        )
        apply_grants(self.function, INDEXER_GRANTS[INDEXER_FUNCTION], storage)
        monitoring.watch_function(self.function, "Indexer")

        self.job_logs = aws_logs.LogGroup(
            self, "SparkJobLogs", retention=aws_logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.image = aws_ecr_assets.DockerImageAsset(
            self,
            "SparkImage",
            directory=str(REPO_ROOT),
            file=SPARK_DOCKERFILE,
            build_args={"EMR_RELEASE": EMR_RELEASE_LABEL},
            exclude=spark_build_context(),
            ignore_mode=IgnoreMode.DOCKER,
            platform=aws_ecr_assets.Platform.LINUX_ARM64,
        )
        self.application = aws_emrserverless.CfnApplication(
            self,
            "SparkApplication",
            release_label=EMR_RELEASE_LABEL,
            type="SPARK",
            architecture="ARM64",
            image_configuration=aws_emrserverless.CfnApplication.ImageConfigurationInputProperty(
                image_uri=self.image.image_uri
            ),
            # Started by the first job run, stopped when idle: nothing is billed between indexes.
            auto_start_configuration=aws_emrserverless.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=aws_emrserverless.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=settings.spark_idle_minutes
            ),
            maximum_capacity=aws_emrserverless.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=f"{settings.spark_max_vcpu} vCPU", memory=f"{settings.spark_max_memory_gb} GB"
            ),
            monitoring_configuration=aws_emrserverless.CfnApplication.MonitoringConfigurationProperty(
                cloud_watch_logging_configuration=aws_emrserverless.CfnApplication.CloudWatchLoggingConfigurationProperty(
                    enabled=True, log_group_name=self.job_logs.log_group_name
                )
            ),
        )
        self.job_role = self._job_role(storage)
        self.state_machine = self._state_machine(settings, storage)
        look_policy = self._allow_look()
        self.schedule = self._schedule(schedule_group)
        # The first scheduled run finds the look allowed to list the executions.
        self.schedule.node.add_dependency(look_policy)
        monitoring.watch_state_machine(
            self.state_machine,
            "LakeIndex",
            "A lake index failed (Lambda or Spark): builds that need it defer their requests until a run succeeds.",
        )
        CfnOutput(
            self,
            "SparkApplicationId",
            value=self.application.attr_application_id,
            description="EMR Serverless application of the lake index's Spark job",
        ).override_logical_id("SparkApplicationId")
        CfnOutput(
            self,
            "IndexStateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="the lake index (start an execution to index now)",
        ).override_logical_id("IndexStateMachineArn")

    def _job_role(self, storage: Storage) -> aws_iam.Role:
        """What the Spark job may do: read the lake, write its derived tables, write its logs; nothing else."""
        stack = Stack.of(self)
        role = aws_iam.Role(
            self,
            "SparkJobRole",
            assumed_by=aws_iam.ServicePrincipal("emr-serverless.amazonaws.com").with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": self.application.attr_arn},
                }
            ),
            description="EMR Serverless: the lake index's Spark job",
        )
        for grant in (LAKE_READ, WriteDerivedTables()):
            for statement in statements(grant, storage, role):
                role.add_to_principal_policy(statement)
        # EMR Serverless user guide, "Logging for EMR Serverless with Amazon CloudWatch": the job's role writes the
        # driver's and executors' logs to the application's log group.
        streams = self.job_logs.log_group_arn
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], resources=[streams]
            )
        )
        log_groups = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=[log_groups])
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The job's log group ARN ends in ':*' (CloudWatch Logs names its streams under it); DescribeLogGroups, "
            "which EMR Serverless calls before writing, has no narrower resource than the account's log groups.",
            finding=iam5_resource(role, log_groups),
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The job's log streams are created per job run under its one log group.",
            finding=iam5_resource(role, streams),
        )
        return role

    def _state_machine(self, settings: StackSettings, storage: Storage) -> aws_stepfunctions.StateMachine:
        stack = Stack.of(self)
        log_group = aws_logs.LogGroup(
            self,
            "IndexLogs",
            log_group_name=f"{VENDED_LOGS_PREFIX}{settings.stack_name}-lake-index",
            retention=aws_logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        lake_uri = f"s3://{storage.lake_bucket.bucket_name}/{settings.lake_prefix.strip('/')}"
        state_machine = aws_stepfunctions.StateMachine(
            self,
            "StateMachine",
            definition_body=aws_stepfunctions.DefinitionBody.from_string(
                json.dumps(index.index_definition(settings.spark_above_enrolments))
            ),
            definition_substitutions={
                index.INDEXER_FUNCTION: self.function.function_arn,
                index.SPARK_APPLICATION: self.application.attr_application_id,
                index.SPARK_JOB_ROLE: self.job_role.role_arn,
                index.LAKE_URI: lake_uri,
                index.REGION: Stack.of(self).region,
            },
            state_machine_type=aws_stepfunctions.StateMachineType.STANDARD,
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=aws_stepfunctions.LogOptions(
                destination=log_group, level=aws_stepfunctions.LogLevel.ALL, include_execution_data=False
            ),
        )
        job_runs = f"{self.application.attr_arn}/jobruns/*"
        sync_rule = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/{SYNC_EVENTS_RULE}"
        for statement in (
            aws_iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]),
            aws_iam.PolicyStatement(actions=["emr-serverless:StartJobRun"], resources=[self.application.attr_arn]),
            aws_iam.PolicyStatement(
                actions=["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"], resources=[job_runs]
            ),
            aws_iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
            ),
            aws_iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"], resources=[sync_rule]
            ),
        ):
            state_machine.add_to_role_policy(statement)
        acknowledge(
            state_machine.role,
            "AwsSolutions-IAM5",
            "X-Ray tracing (PutTraceSegments, GetSamplingRules...) and CloudWatch Logs vended delivery "
            "(CreateLogDelivery, PutResourcePolicy...) support no resource-level permissions; CDK adds exactly "
            "those actions on '*' for tracing_enabled and logs, nothing on data.",
            finding="Resource::*",
        )
        acknowledge(
            state_machine.role,
            "AwsSolutions-IAM5",
            "Job run ids are generated by EMR Serverless when a run starts: the runs of this one application can "
            "only be named by its prefix (GetJobRun to wait for the run, CancelJobRun to stop it with the execution).",
            finding=iam5_resource(state_machine.role, job_runs),
        )
        return state_machine

    def _allow_look(self) -> aws_iam.Policy:
        """The look lists this state machine's running executions, so that runs never overlap. A policy of its own
        (not the function role's default one, which the function and so the state machine depend on)."""
        return aws_iam.Policy(
            self,
            "LookPolicy",
            roles=[self.function.role] if self.function.role else [],
            statements=[
                aws_iam.PolicyStatement(
                    actions=["states:ListExecutions"], resources=[self.state_machine.state_machine_arn]
                )
            ],
        )

    def _schedule(self, schedule_group: str) -> aws_scheduler.CfnSchedule:
        role = aws_iam.Role(
            self,
            "ScheduleRole",
            assumed_by=aws_iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: start the lake index",
        )
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn])
        )
        return aws_scheduler.CfnSchedule(
            self,
            "Schedule",
            description="Rewrite the lake's derived tables when a load made them stale",
            group_name=schedule_group,
            schedule_expression=INDEX_EVERY,
            flexible_time_window=aws_scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=aws_scheduler.CfnSchedule.TargetProperty(
                arn=self.state_machine.state_machine_arn,
                role_arn=role.role_arn,
                input="{}",
                retry_policy=aws_scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=int(SCHEDULE_MAX_EVENT_AGE.to_seconds()), maximum_retry_attempts=0
                ),
            ),
        )
