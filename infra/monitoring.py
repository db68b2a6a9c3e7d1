"""Monitoring: alarms on what means lost, failing or stalled work, sent to one SNS topic, and one dashboard.

Watched: every dead-letter queue (any message is work that could not be delivered), the requests queue's oldest
message, the API's 5xx rate and latency, failed executions, the errors of every function that does the service's
work (the constructs wire those as they create them), Lambda throttles of every function, DynamoDB throttles of
every table, and the producer's schedule group. `add_dashboard` ends the stack: one widget per alarm, with the
alarms' status on top (docs/deploy.md lists what to do for each).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import (
    Duration,
    Stack,
    aws_apigateway,
    aws_cloudwatch,
    aws_cloudwatch_actions,
    aws_dynamodb,
    aws_iam,
    aws_kms,
    aws_lambda,
    aws_sns,
    aws_sns_subscriptions,
    aws_sqs,
    aws_stepfunctions,
)
from constructs import Construct

from infra.nag import acknowledge

FIVE_MINUTES = Duration.minutes(5)
# Share of API requests answered 5xx, averaged over 5 minutes, that raises the alarm.
API_5XX_RATE_THRESHOLD = 0.05
# p95 of the API's latency (ms) for 3 five-minute periods in a row: legacy/export zips are the slow answers, and
# they stop at the function timeout (24 s); normal JSON answers take well under a second.
API_P95_LATENCY_THRESHOLD_MS = 10_000
# A requests-queue message this old means the dispatcher is not consuming (a throttled channel's request is sent
# again with a 60 s delay, as a new message, so waiting for a free slot does not age a message).
QUEUE_OLDEST_MESSAGE_THRESHOLD = Duration.minutes(30)
# An alarm on a metric math expression may use at most 10 metrics (CloudWatch User Guide, "Create a CloudWatch
# alarm based on a metric math expression"): sums over more are split into several alarms.
MAX_METRICS_PER_ALARM = 10
DASHBOARD_WIDGETS_PER_ROW = 3


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dead_letter_queue: aws_sqs.IQueue,
        alarm_email: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key: it needs a key whose
        # policy lets cloudwatch.amazonaws.com use it.
        key = aws_kms.Key(self, "AlarmsKey", enable_key_rotation=True, description="Encrypts the exhaust alarm topic")
        key.add_to_resource_policy(
            aws_iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                principals=[aws_iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = aws_sns.Topic(self, "AlarmTopic", display_name="exhaust alarms", master_key=key, enforce_ssl=True)
        # enforce_ssl gives the topic a resource policy, which replaces SNS's default one: without this statement
        # nothing may publish, and no alarm would ever be delivered. Only this account's alarms may (confused
        # deputy: CloudWatch sets aws:SourceArn and aws:SourceAccount).
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            aws_iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                actions=["sns:Publish"],
                principals=[aws_iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        if alarm_email:
            self.topic.add_subscription(aws_sns_subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[aws_cloudwatch.Alarm] = []
        self.watch_dead_letters(
            dead_letter_queue,
            "DeadLetterQueueAlarm",
            "Requests reached the dead-letter queue: they could not be dispatched (see runbook in docs/deploy.md).",
        )

    def dead_letter_queue(self, construct_id: str, what: str) -> aws_sqs.Queue:
        """A dead-letter queue (14 days, encrypted, TLS only) for undeliverable `what`, alarmed on its first message."""
        queue = aws_sqs.Queue(
            self,
            construct_id,
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter destination of {what}; a dead-letter queue of a dead-letter "
            "queue would only hide the messages its alarm points at.",
        )
        self.watch_dead_letters(queue, f"{construct_id}Alarm", f"{what} could not be delivered: see docs/deploy.md.")
        return queue

    def watch_dead_letters(self, queue: aws_sqs.IQueue, construct_id: str, description: str) -> aws_cloudwatch.Alarm:
        return self._alarm(
            construct_id,
            queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
            threshold=0,
            description=description,
        )

    def watch_queue_age(self, queue: aws_sqs.IQueue) -> aws_cloudwatch.Alarm:
        """The requests queue's oldest message waits longer than it ever should: dispatching is stalled."""
        return self._alarm(
            "RequestsQueueAgeAlarm",
            queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
            threshold=QUEUE_OLDEST_MESSAGE_THRESHOLD.to_seconds(),
            description=f"A request has waited over {QUEUE_OLDEST_MESSAGE_THRESHOLD.to_minutes():.0f} minutes in "
            "the requests queue: the dispatcher is not consuming it.",
        )

    def watch_throttles(self, functions: Sequence[aws_lambda.IFunction]) -> list[aws_cloudwatch.Alarm]:
        """Any Lambda throttle of these functions (sums of at most MAX_METRICS_PER_ALARM functions each)."""
        return self._sum_alarms(
            "LambdaThrottlesAlarm",
            [function.metric_throttles(period=FIVE_MINUTES, statistic="Sum") for function in functions],
            label="Lambda throttles",
            description="Lambda throttled exhaust functions: the account's concurrency (or a function's reserved "
            "concurrency) is exhausted; see docs/deploy.md, account limits.",
        )

    def watch_tables(self, tables: Sequence[aws_dynamodb.ITable]) -> list[aws_cloudwatch.Alarm]:
        """Any read or write throttle event of these tables."""
        metrics = [
            aws_cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name=name,
                dimensions_map={"TableName": table.table_name},
                period=FIVE_MINUTES,
                statistic="Sum",
            )
            for table in tables
            for name in ("ReadThrottleEvents", "WriteThrottleEvents")
        ]
        return self._sum_alarms(
            "DynamoDbThrottlesAlarm",
            metrics,
            label="DynamoDB throttle events",
            description="DynamoDB throttled reads or writes of an exhaust table (on-demand tables throttle past "
            "their previous peak doubled, or at a partition's limit); see docs/deploy.md.",
        )

    def watch_schedule_group(self, group_name: str) -> aws_cloudwatch.Alarm:
        """The producer's schedule could not invoke it, dropped an invocation, or lost one to its DLQ."""
        names = ("TargetErrorCount", "InvocationDroppedCount", "InvocationsFailedToBeSentToDeadLetterCount")
        return self._sum_alarms(
            "SchedulerFailuresAlarm",
            [
                aws_cloudwatch.Metric(
                    namespace="AWS/Scheduler",
                    metric_name=name,
                    dimensions_map={"ScheduleGroup": group_name},
                    period=FIVE_MINUTES,
                    statistic="Sum",
                )
                for name in names
            ],
            label="Scheduler target errors and dropped invocations",
            description="EventBridge Scheduler failed to invoke the producer (target errors, dropped invocations).",
        )[0]

    def _sum_alarms(
        self, construct_id: str, metrics: Sequence[aws_cloudwatch.IMetric], *, label: str, description: str
    ) -> list[aws_cloudwatch.Alarm]:
        chunks = [metrics[i : i + MAX_METRICS_PER_ALARM] for i in range(0, len(metrics), MAX_METRICS_PER_ALARM)]
        alarms = []
        for number, chunk in enumerate(chunks, start=1):
            using = {f"m{index}": metric for index, metric in enumerate(chunk)}
            expression = aws_cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({name}, 0)" for name in using),
                using_metrics=using,
                label=label,
                period=FIVE_MINUTES,
            )
            suffix = "" if len(chunks) == 1 else str(number)
            alarms.append(self._alarm(f"{construct_id}{suffix}", expression, threshold=0, description=description))
        return alarms

    def _alarm(
        self,
        construct_id: str,
        metric: aws_cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int = 1,
    ) -> aws_cloudwatch.Alarm:
        alarm = aws_cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=aws_cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=aws_cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(aws_cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def watch_api(self, api: aws_apigateway.RestApi) -> list[aws_cloudwatch.Alarm]:
        """5xx answers above 5% of the API's requests in 2 of 3 five-minute periods; a slow p95 for 15 minutes."""
        return [
            self._alarm(
                "Api5xxAlarm",
                api.metric_server_error(period=FIVE_MINUTES, statistic="Average"),
                threshold=API_5XX_RATE_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                description=f"More than {API_5XX_RATE_THRESHOLD:.0%} of API requests answered 5xx.",
            ),
            self._alarm(
                "ApiLatencyAlarm",
                api.metric_latency(period=FIVE_MINUTES, statistic="p95"),
                threshold=API_P95_LATENCY_THRESHOLD_MS,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                description=f"The API's p95 latency stayed above {API_P95_LATENCY_THRESHOLD_MS / 1000:.0f} s for "
                "15 minutes.",
            ),
        ]

    def add_dashboard(
        self, name: str, *, builder: aws_lambda.IFunction, state_machine: aws_stepfunctions.IStateMachine
    ) -> aws_cloudwatch.Dashboard:
        """One dashboard: every alarm's state on top, the work going on, then each alarm's metric and threshold."""
        dashboard = aws_cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name)
        dashboard.add_widgets(
            aws_cloudwatch.AlarmStatusWidget(alarms=self.alarms, title="exhaust alarms", width=24, height=6)
        )
        minute = Duration.minutes(1)
        dashboard.add_widgets(
            aws_cloudwatch.GraphWidget(
                title="Work: builders running (left), executions (right)",
                width=24,
                left=[
                    builder.metric("ConcurrentExecutions", period=minute, statistic="Maximum", label="builders running")
                ],
                right=[
                    state_machine.metric_started(period=minute, statistic="Sum", label="started"),
                    state_machine.metric_succeeded(period=minute, statistic="Sum", label="succeeded"),
                    state_machine.metric_failed(period=minute, statistic="Sum", label="failed"),
                ],
            )
        )
        widgets = [
            aws_cloudwatch.AlarmWidget(alarm=alarm, title=alarm.node.id.removesuffix("Alarm"), width=8)
            for alarm in self.alarms
        ]
        for start in range(0, len(widgets), DASHBOARD_WIDGETS_PER_ROW):
            dashboard.add_widgets(*widgets[start : start + DASHBOARD_WIDGETS_PER_ROW])
        return dashboard

    def watch_state_machine(
        self,
        state_machine: aws_stepfunctions.IStateMachine,
        name: str = "",
        description: str = "Exhaust workflow executions failed, timed out or were aborted.",
    ) -> aws_cloudwatch.Alarm:
        """Any failed, timed-out or aborted execution of a state machine (by default the exhaust workflow)."""
        metric = aws_cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)",
            using_metrics={
                "failed": state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
                "timedOut": state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
                "aborted": state_machine.metric_aborted(period=FIVE_MINUTES, statistic="Sum"),
            },
            label="Executions failed, timed out or aborted",
            period=FIVE_MINUTES,
        )
        return self._alarm(f"{name}ExecutionsFailedAlarm", metric, threshold=0, description=description)

    def watch_function(self, function: aws_lambda.IFunction, name: str = "Builder") -> aws_cloudwatch.Alarm:
        """Any error of a function that does the service's work (builder, dispatcher, sweeper, authorizer...)."""
        return self._alarm(
            f"{name}ErrorsAlarm",
            function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=0,
            description=f"The {name} function reported errors.",
        )
