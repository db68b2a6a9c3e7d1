"""The daily standard-dataset producer: an EventBridge Scheduler schedule invoking a container-image Lambda.

The schedules' group is the stack's own; the lake index's schedule (infra/indexer.py) is in it too.

The producer reads Parquet with pyarrow, so it ships as a container image (functions/Dockerfile with
HANDLER_DIR=functions/producer) rather than a zip Lambda. It has its own image, not the builder's with another CMD:
the two deploy and fail independently, the producer's role holds only its own grants (infra/grants.py
PRODUCER_GRANTS), and both images share the install layer of the one Dockerfile. Synthesis only stages the build
context; Docker runs at `cdk deploy`.

A re-produced day replaces public files CloudFront caches for an hour (the producer's Cache-Control): the producer
invalidates them after every run that wrote any, so corrections reach readers at once (docs/decisions.md).

The schedule passes its own scheduled time, so a retried invocation produces the same day (the day before the
scheduled time) rather than whatever "yesterday" is when the retry runs.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Size, aws_cloudfront, aws_iam, aws_lambda_destinations, aws_scheduler
from constructs import Construct

from infra.config import StackSettings
from infra.grants import PRODUCER_GRANTS, apply_grants
from infra.image_function import ImageServiceFunction
from infra.monitoring import Monitoring
from infra.storage import Storage

PRODUCER_FUNCTION = "producer"
# 01:30 UTC: yesterday's telemetry has landed in the lake (docs/datasets.md states this contract).
DAILY_AT = "cron(30 1 * * ? *)"
SCHEDULE_INPUT = json.dumps({"scheduledTime": "<aws.scheduler.scheduled-time>"})
# One day of telemetry is grouped in memory; a backfill of many days runs day by day within the timeout.
MEMORY_MB = 2048
TIMEOUT = Duration.minutes(15)
# A day's production is still worth running this late (it is idempotent: the same files again).
MAX_EVENT_AGE = Duration.hours(6)


class Scheduler(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        storage: Storage,
        environment: dict[str, str],
        monitoring: Monitoring,
        distribution: aws_cloudfront.IDistribution,
        schedule_expression: str = DAILY_AT,
    ) -> None:
        super().__init__(scope, construct_id)
        self.producer = ImageServiceFunction(
            self,
            "Producer",
            function=PRODUCER_FUNCTION,
            # After writing the public files it invalidates them in CloudFront, on that distribution only.
            environment={**environment, "EXHAUST_CDN_DISTRIBUTION_ID": distribution.distribution_id},
            description="exhaust producer: daily summary-rollup, summary-channel-exhaust, public-summary-rollup",
            memory_size=MEMORY_MB,
            ephemeral_storage=Size.mebibytes(512),
            timeout=TIMEOUT,
        )
        apply_grants(self.producer, PRODUCER_GRANTS[PRODUCER_FUNCTION], storage)
        distribution.grant_create_invalidation(self.producer)
        monitoring.watch_function(self.producer, "Producer")
        # A day the schedule could not hand over, or that failed after Lambda's own retries (the schedule invokes
        # asynchronously), is kept here with its scheduledTime, so an operator can produce it again.
        self.dead_letters = monitoring.dead_letter_queue("ProducerDeadLetterQueue", "A daily production")
        self.producer.configure_async_invoke(
            on_failure=aws_lambda_destinations.SqsDestination(self.dead_letters),
            max_event_age=MAX_EVENT_AGE,
            retry_attempts=2,
        )
        # The stack's own group, so the Scheduler metrics (by group) count the stack's schedules only.
        self.group = aws_scheduler.CfnScheduleGroup(self, "Group", name=settings.stack_name)
        monitoring.watch_schedule_group(settings.stack_name)

        invoker = self._invoker("ScheduleRole", "the standard-dataset producer", self.producer)
        invoker.add_to_principal_policy(
            aws_iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn])
        )
        self.schedule = aws_scheduler.CfnSchedule(
            self,
            "Daily",
            description="Produce yesterday's standard datasets",
            group_name=self.group.ref,
            schedule_expression=schedule_expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=aws_scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=aws_scheduler.CfnSchedule.TargetProperty(
                arn=self.producer.function_arn,
                role_arn=invoker.role_arn,
                input=SCHEDULE_INPUT,
                retry_policy=aws_scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds()), maximum_retry_attempts=3
                ),
                dead_letter_config=aws_scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dead_letters.queue_arn),
            ),
        )

    def _invoker(self, construct_id: str, what: str, function: ImageServiceFunction) -> aws_iam.Role:
        """A schedule's own role: it may invoke this one function and nothing else (no version wildcard)."""
        role = aws_iam.Role(
            self,
            construct_id,
            assumed_by=aws_iam.ServicePrincipal("scheduler.amazonaws.com"),
            description=f"EventBridge Scheduler: invoke {what}",
        )
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
        )
        return role
