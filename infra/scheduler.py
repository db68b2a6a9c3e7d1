"""The daily standard-dataset producer: an EventBridge Scheduler schedule invoking a container-image Lambda.

The producer reads Parquet with pyarrow, so it ships as a container image (functions/producer/Dockerfile) rather
than a zip Lambda. It has its own image, not the builder's with another CMD: the two deploy and fail
independently, the producer's role holds only its own grants (infra/grants.py PRODUCER_GRANTS), and its
Dockerfile repeats the builder's install step so both images share that layer. Synthesis only stages the build
context; Docker runs at `cdk deploy`.

The schedule passes its own scheduled time, so a retried invocation produces the same day (the day before the
scheduled time) rather than whatever "yesterday" is when the retry runs.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, IgnoreMode, Size, aws_ecr_assets, aws_iam, aws_lambda, aws_logs, aws_scheduler
from constructs import Construct

from infra.grants import PRODUCER_GRANTS, apply_grants
from infra.layer import REPO_ROOT
from infra.service_function import ARCHITECTURE, enable_active_tracing, function_role
from infra.storage import Storage

PRODUCER_FUNCTION = "producer"
# 01:30 UTC: yesterday's telemetry has landed in the lake (docs/datasets.md states this contract).
DAILY_AT = "cron(30 1 * * ? *)"
SCHEDULE_INPUT = json.dumps({"scheduledTime": "<aws.scheduler.scheduled-time>"})
# Docker ignore rules: everything but what the Dockerfile copies.
BUILD_CONTEXT = [
    "*",
    "!pyproject.toml",
    "!README.md",
    "!requirements.lock",
    "!layers/exhaust",
    "layers/exhaust/**/__pycache__",
    f"!functions/{PRODUCER_FUNCTION}",
    f"functions/{PRODUCER_FUNCTION}/**/__pycache__",
]
# One day of telemetry is grouped in memory; a backfill of many days runs day by day within the timeout.
MEMORY_MB = 2048
TIMEOUT = Duration.minutes(15)


class Scheduler(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        environment: dict[str, str],
        schedule_expression: str = DAILY_AT,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = aws_logs.LogGroup(self, "ProducerLogs", retention=aws_logs.RetentionDays.ONE_MONTH)
        role = function_role(self, "ProducerRole", log_group)
        self.producer = aws_lambda.DockerImageFunction(
            self,
            "Producer",
            code=aws_lambda.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=f"functions/{PRODUCER_FUNCTION}/Dockerfile",
                exclude=BUILD_CONTEXT,
                ignore_mode=IgnoreMode.DOCKER,
                platform=aws_ecr_assets.Platform.LINUX_ARM64,
            ),
            architecture=ARCHITECTURE,
            role=role,
            memory_size=MEMORY_MB,
            ephemeral_storage_size=Size.mebibytes(512),
            timeout=TIMEOUT,
            logging_format=aws_lambda.LoggingFormat.JSON,
            log_group=log_group,
            description="exhaust producer: daily summary-rollup and public-summary-rollup from the lake",
            environment={
                "POWERTOOLS_SERVICE_NAME": "exhaust",
                "POWERTOOLS_METRICS_NAMESPACE": "DataExhaust",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        enable_active_tracing(self.producer)
        apply_grants(self.producer, PRODUCER_GRANTS[PRODUCER_FUNCTION], storage)

        # The schedule's own role may invoke this one function and nothing else (no version wildcard).
        invoker = aws_iam.Role(
            self,
            "ScheduleRole",
            assumed_by=aws_iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: invoke the standard-dataset producer",
        )
        invoker.add_to_principal_policy(
            aws_iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.producer.function_arn])
        )
        self.schedule = aws_scheduler.CfnSchedule(
            self,
            "Daily",
            description="Produce yesterday's standard datasets",
            schedule_expression=schedule_expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=aws_scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=aws_scheduler.CfnSchedule.TargetProperty(
                arn=self.producer.function_arn,
                role_arn=invoker.role_arn,
                input=SCHEDULE_INPUT,
                retry_policy=aws_scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=6 * 3600, maximum_retry_attempts=3
                ),
            ),
        )
