"""Callback delivery: a FIFO queue grouped by channel and the function that drains it (exhaust.pipeline.callbacks).

    finalize / mark_failed / sweeper / cancel / delete --SendMessage--> callbacks queue (FIFO, group = channel)
    callbacks queue --> callbacks function (one message per invocation) --> the partner's https endpoint

A partner's endpoint that never answers holds one invocation of its own channel's group; the steps, the API and the
other channels' callbacks never wait for it. Only this function reads the signing secret and calls out.
"""

from __future__ import annotations

from aws_cdk import Duration, aws_iam, aws_lambda, aws_lambda_event_sources, aws_secretsmanager, aws_sqs
from constructs import Construct
from exhaust import resources

from infra.grants import PIPELINE_GRANTS, apply_grants
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.service_function import ServiceFunction
from infra.storage import Storage

# Two tries of at most 8 s and the pause between them (exhaust.pipeline.notify), with room to record the outcome.
DELIVERY_TIMEOUT = Duration.seconds(30)
# Channels whose callbacks are delivered at the same time (each channel's one at a time: the FIFO group).
MAX_CHANNELS_AT_ONCE = 10
CALLBACK_QUEUE = resources.CALLBACK_QUEUE


class CallbackDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str],
        secret: aws_secretsmanager.ISecret,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        dead_letters = aws_sqs.Queue(
            self,
            "DeadLetterQueue",
            fifo=True,
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination of the callback queue; a dead-letter queue of a "
            "dead-letter queue would only hide the messages its alarm points at.",
        )
        monitoring.watch_dead_letters(
            dead_letters, "CallbackDeadLettersAlarm", "A callback could not be handled: see docs/deploy.md."
        )
        self.queue = aws_sqs.Queue(
            self,
            "Queue",
            fifo=True,
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(CALLBACK_QUEUE.visibility_timeout_seconds),
            dead_letter_queue=aws_sqs.DeadLetterQueue(
                queue=dead_letters, max_receive_count=CALLBACK_QUEUE.max_receive_count
            ),
        )
        self.function = ServiceFunction(
            self,
            "Function",
            function="callbacks",
            layers=layers,
            environment={**environment, "EXHAUST_CALLBACK_SECRET_ARN": secret.secret_arn},
            timeout=DELIVERY_TIMEOUT,
        )
        apply_grants(self.function, PIPELINE_GRANTS["callbacks"], storage)
        secret.grant_read(self.function)
        self.function.add_event_source(
            aws_lambda_event_sources.SqsEventSource(
                self.queue, batch_size=1, report_batch_item_failures=True, max_concurrency=MAX_CHANNELS_AT_ONCE
            )
        )
        monitoring.watch_function(self.function, "Callbacks")

    def allow_queueing(self, function: aws_lambda.Function) -> None:
        """`function` queues callbacks: SendMessage on this queue only, and its URL in the environment."""
        function.add_to_role_policy(
            aws_iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
        )
        function.add_environment(CALLBACK_QUEUE.env_var, self.queue.queue_url)
