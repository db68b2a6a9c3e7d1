"""Monitoring: alarms on what means lost or failing work, sent to one SNS topic (e-mail when configured).

Watched: the dead-letter queue (any message is a request that could not be dispatched), the API's 5xx rate,
and, through `watch_state_machine` / `watch_function`, failed executions and builder errors (the pipeline wires
those when it creates them).
"""

from __future__ import annotations

from aws_cdk import (
    Duration,
    Stack,
    aws_apigateway,
    aws_cloudwatch,
    aws_cloudwatch_actions,
    aws_iam,
    aws_kms,
    aws_lambda,
    aws_sns,
    aws_sns_subscriptions,
    aws_sqs,
    aws_stepfunctions,
)
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)
# Share of API requests answered 5xx, averaged over 5 minutes, that raises the alarm.
API_5XX_RATE_THRESHOLD = 0.05


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

        self._alarm(
            "DeadLetterQueueAlarm",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=0,
            description="Requests reached the dead-letter queue: they could not be dispatched (see runbook in "
            "docs/deploy.md).",
        )

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

    def watch_api(self, api: aws_apigateway.RestApi) -> aws_cloudwatch.Alarm:
        """5xx answers above 5% of the API's requests in 2 of 3 five-minute periods."""
        return self._alarm(
            "Api5xxAlarm",
            api.metric_server_error(period=FIVE_MINUTES, statistic="Average"),
            threshold=API_5XX_RATE_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"More than {API_5XX_RATE_THRESHOLD:.0%} of API requests answered 5xx.",
        )

    def watch_state_machine(self, state_machine: aws_stepfunctions.IStateMachine) -> aws_cloudwatch.Alarm:
        """Any failed, timed-out or aborted execution of the exhaust workflow."""
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
        return self._alarm(
            "ExecutionsFailedAlarm",
            metric,
            threshold=0,
            description="Exhaust workflow executions failed, timed out or were aborted.",
        )

    def watch_function(self, function: aws_lambda.IFunction, name: str = "Builder") -> aws_cloudwatch.Alarm:
        """Any error of a function (the builder, or any other the pipeline wants watched)."""
        return self._alarm(
            f"{name}ErrorsAlarm",
            function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=0,
            description=f"The {name} function reported errors.",
        )
