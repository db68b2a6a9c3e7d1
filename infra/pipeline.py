"""The pipeline: the Step Functions state machine built from the one workflow definition, and its functions.

    SQS requests queue --> dispatcher (partial batch failures) --> StartExecution
    state machine (exhaust.pipeline.definition): builder image (a Plan and a BuildBatch function), finalize,
    mark_failed
    EventBridge schedule --> sweeper;  finalize / mark_failed / sweeper --> completion events, signed callbacks

The definition document is deployed as it is, with the functions' ARNs substituted for its placeholders, so the
state machine and local mode's runner cannot drift apart (tests/infra compares them).
"""

from __future__ import annotations

import json

from aws_cdk import (
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    aws_events,
    aws_events_targets,
    aws_iam,
    aws_lambda,
    aws_lambda_event_sources,
    aws_logs,
    aws_secretsmanager,
    aws_sqs,
    aws_stepfunctions,
)
from constructs import Construct
from exhaust.pipeline import definition
from exhaust.resources import BUILDER_MEMORY_MB, BUILDER_TIMEOUT_SECONDS

from infra.config import StackSettings
from infra.grants import PIPELINE_GRANTS, apply_grants
from infra.monitoring import Monitoring
from infra.nag import acknowledge, iam5_resource
from infra.service_function import ServiceFunction
from infra.storage import Storage

# Every minute: a request whose queue send failed at submit is queued again within about a minute.
SWEEP_EVERY = Duration.minutes(1)
EXECUTION_TIMEOUT = Duration.hours(12)
# Step Functions delivers its logs through CloudWatch Logs vended delivery, which adds each log group to one
# account-wide resource policy (5,120 characters) unless the group's name starts with this prefix (Step Functions
# developer guide, "Logging using CloudWatch Logs"): one stack per developer would outgrow that policy.
VENDED_LOGS_PREFIX = "/aws/vendedlogs/states/"
DEFAULT_EVENT_BUS = "default"


class ExhaustWorkflow(Construct):
    """The state machine and the functions around it (the step service they run is exhaust.pipeline.steps)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        storage: Storage,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str],
        builder: aws_lambda.Function,
        plan: aws_lambda.Function,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bus = aws_events.EventBus.from_event_bus_name(self, "EventBus", DEFAULT_EVENT_BUS)
        self.callback_secret = self._callback_secret()
        self._notify_environment = {
            "EXHAUST_EVENT_BUS_NAME": DEFAULT_EVENT_BUS,
            "EXHAUST_CALLBACK_SECRET_ARN": self.callback_secret.secret_arn,
        }
        notify_environment = {**environment, **self._notify_environment}
        # Reservations (exhaust.quotas): the steps that end a request never wait behind the account's other
        # functions (throttled calls are retried by the workflow); one sweep at a time.
        reserved = settings.reserved_concurrency
        # Finalize names the builder's limits in the statusMessage of a request whose batch outgrew them.
        builder_limits = {
            "EXHAUST_BUILDER_TIMEOUT_SECONDS": str(BUILDER_TIMEOUT_SECONDS),
            "EXHAUST_BUILDER_MEMORY_MB": str(BUILDER_MEMORY_MB),
        }
        self.finalize = self._function(
            "Finalize",
            "finalize",
            layers,
            {**notify_environment, **builder_limits},
            storage,
            Duration.minutes(1),
            reserved.get("finalize"),
        )
        self.mark_failed = self._function(
            "MarkFailed",
            "mark_failed",
            layers,
            notify_environment,
            storage,
            Duration.minutes(1),
            reserved.get("mark_failed"),
        )
        self.state_machine = self._state_machine(settings, plan, builder, storage)
        stack = Stack.of(self)
        execution_prefix = (
            f"arn:{stack.partition}:states:{stack.region}:{stack.account}:execution:"
            f"{self.state_machine.state_machine_name}"
        )
        self._executions = f"{execution_prefix}:*"  # this state machine's executions (the sweeper looks at them)
        self._allow_distributed_map(f"{execution_prefix}/*", storage)

        control_environment = {**notify_environment, "EXHAUST_STATE_MACHINE_ARN": self.state_machine.state_machine_arn}
        self.dispatcher = self._dispatcher(layers, control_environment, storage)
        self.sweeper = self._sweeper(layers, control_environment, storage, reserved.get("sweeper"))
        self.sweeper_dead_letters = self._sweep_schedule(monitoring)
        for function in (self.finalize, self.mark_failed, self.sweeper):
            self._bus.grant_put_events_to(function)
            self.callback_secret.grant_read(function)
        self.redrive_policy = self._redrive_policy()
        self._outputs()
        self._watch(monitoring, plan, builder, storage)

    def _callback_secret(self) -> aws_secretsmanager.Secret:
        secret = aws_secretsmanager.Secret(
            self,
            "CallbackSecret",
            description="Signs the exhaust completion callbacks (HMAC-SHA256, docs/pipeline.md)",
            generate_secret_string=aws_secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
            # Partners verify callbacks with it: kept, as the tables are, when the stack is deleted or replaced.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The callback signing secret is shared with partners, who verify signatures with it; rotating it is an "
            "operator decision announced to them (docs/pipeline.md), not an automatic schedule.",
        )
        return secret

    def _state_machine(
        self, settings: StackSettings, plan: aws_lambda.Function, builder: aws_lambda.Function, storage: Storage
    ) -> aws_stepfunctions.StateMachine:
        """The one workflow definition, deployed with the functions' ARNs for its placeholders."""
        # Named (per stack), so deleted with the stack: a retained group would block the next deploy of the same name.
        log_group = aws_logs.LogGroup(
            self,
            "WorkflowLogs",
            log_group_name=f"{VENDED_LOGS_PREFIX}{settings.stack_name}-workflow",
            retention=aws_logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        substitutions = {
            definition.PLAN_FUNCTION: plan.function_arn,
            definition.BUILDER_FUNCTION: builder.function_arn,
            definition.FINALIZE_FUNCTION: self.finalize.function_arn,
            definition.MARK_FAILED_FUNCTION: self.mark_failed.function_arn,
            definition.BUCKET_PLACEHOLDER: storage.exhaust_bucket.bucket_name,
        }
        state_machine = aws_stepfunctions.StateMachine(
            self,
            "Workflow",
            definition_body=aws_stepfunctions.DefinitionBody.from_string(
                json.dumps(definition.workflow_definition(settings.map_max_concurrency))
            ),
            definition_substitutions=substitutions,
            state_machine_type=aws_stepfunctions.StateMachineType.STANDARD,
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=aws_stepfunctions.LogOptions(
                destination=log_group, level=aws_stepfunctions.LogLevel.ALL, include_execution_data=False
            ),
        )
        # Exactly the four functions, unqualified (grant_invoke would add `<arn>:*` for every version and alias).
        state_machine.add_to_role_policy(
            aws_iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in (plan, builder, self.finalize, self.mark_failed)],
            )
        )
        acknowledge(
            state_machine.role,
            "AwsSolutions-IAM5",
            "X-Ray tracing (PutTraceSegments, GetSamplingRules...) and CloudWatch Logs vended delivery "
            "(CreateLogDelivery, PutResourcePolicy...) support no resource-level permissions; CDK adds exactly "
            "those actions on '*' for tracing_enabled and logs, nothing on data.",
            finding="Resource::*",
        )
        return state_machine

    def _allow_distributed_map(self, child_executions: str, storage: Storage) -> None:
        """The Distributed Map runs each item as a child execution of this state machine, reads Plan's batch list
        (ItemReader) and writes its results (ResultWriter). A separate policy (not the role's default one, which the
        state machine depends on) avoids a circular reference to its own ARN."""
        plans = storage.exhaust_bucket.arn_for_objects(f"{definition.PLANS_PREFIX}*")
        map_results = storage.exhaust_bucket.arn_for_objects(f"{definition.MAP_RESULTS_PREFIX}/*")
        map_policy = aws_iam.Policy(
            self,
            "DistributedMapPolicy",
            roles=[self.state_machine.role],
            statements=[
                aws_iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]
                ),
                # Redriving a failed execution redrives its Map Run: Step Functions then redrives the child
                # executions with this role (Step Functions developer guide, "Redriving Map Runs").
                aws_iam.PolicyStatement(
                    actions=["states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"],
                    resources=[child_executions],
                ),
                # The ItemReader reads Plan's batch list; the ResultWriter writes the children's results (Step
                # Functions developer guide, "IAM policies for ItemReader" and "... for ResultWriter").
                aws_iam.PolicyStatement(actions=["s3:GetObject"], resources=[plans]),
                aws_iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                    resources=[map_results],
                ),
            ],
        )
        acknowledge(
            map_policy,
            "AwsSolutions-IAM5",
            "A Distributed Map names its child executions '<state machine>/<map run>:<uuid>' at run time; they can "
            "only be granted by this state machine's prefix.",
            finding=iam5_resource(map_policy, child_executions),
        )
        for objects in (plans, map_results):
            acknowledge(
                map_policy,
                "AwsSolutions-IAM5",
                "Plans and map results are one object per execution (its name) and per Map Run (an id Step "
                "Functions generates): they can only be named by their prefix.",
                finding=iam5_resource(map_policy, objects),
            )

    def _dispatcher(
        self, layers: list[aws_lambda.ILayerVersion], environment: dict[str, str], storage: Storage
    ) -> ServiceFunction:
        # Under the queue's visibility timeout, so a message is never handed to a second dispatcher mid-batch.
        dispatcher = self._function("Dispatcher", "dispatcher", layers, environment, storage, Duration.seconds(60))
        dispatcher.add_event_source(
            aws_lambda_event_sources.SqsEventSource(
                storage.queue, batch_size=10, report_batch_item_failures=True, max_concurrency=2
            )
        )
        self.state_machine.grant_start_execution(dispatcher)
        return dispatcher

    def _sweeper(
        self,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str],
        storage: Storage,
        reserved_concurrency: int | None,
    ) -> ServiceFunction:
        sweeper = self._function(
            "Sweeper", "sweeper", layers, environment, storage, Duration.minutes(5), reserved_concurrency
        )
        sweeper.add_to_role_policy(
            aws_iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=[self._executions]
            )
        )
        assert sweeper.role is not None
        acknowledge(
            sweeper.role,
            "AwsSolutions-IAM5",
            "The sweeper describes and stops executions of this one state machine, whose names (requestId, "
            "submission, attempt) are only known at run time.",
            finding=iam5_resource(sweeper.role, self._executions),
        )
        return sweeper

    def _sweep_schedule(self, monitoring: Monitoring) -> aws_sqs.Queue:
        """The sweeper every SWEEP_EVERY; answers the dead-letter queue of the sweeps EventBridge cannot deliver."""
        # An undelivered sweep lands in this queue (alarmed) instead of vanishing; a late sweep is worth nothing
        # once the next one has run, hence the event age.
        dead_letters = monitoring.dead_letter_queue("SweeperDeadLetterQueue", "A scheduled sweep")
        aws_events.Rule(
            self,
            "SweepSchedule",
            schedule=aws_events.Schedule.rate(SWEEP_EVERY),
            targets=[
                aws_events_targets.LambdaFunction(
                    self.sweeper,
                    retry_attempts=2,
                    max_event_age=SWEEP_EVERY,
                    dead_letter_queue=dead_letters,
                )
            ],
            description="Re-queues lost SUBMITTED requests, recovers PROCESSING ones whose execution ended",
        )
        return dead_letters

    def _redrive_policy(self) -> aws_iam.ManagedPolicy:
        """Operators redrive by hand (docs/deploy.md): a policy to attach to their role, for this workflow only."""
        policy = aws_iam.ManagedPolicy(
            self,
            "RedrivePolicy",
            description="Redrive failed executions of the exhaust workflow (docs/deploy.md, redrive)",
            statements=[
                aws_iam.PolicyStatement(
                    actions=["states:ListExecutions"], resources=[self.state_machine.state_machine_arn]
                ),
                aws_iam.PolicyStatement(
                    actions=["states:DescribeExecution", "states:GetExecutionHistory", "states:RedriveExecution"],
                    resources=[self._executions],
                ),
            ],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "An operator redrives any failed execution of this one state machine; execution names (requestId, "
            "submission, attempt) are only known at run time.",
            finding=iam5_resource(policy, self._executions),
        )
        return policy

    def _outputs(self) -> None:
        CfnOutput(
            self, "RedrivePolicyArn", value=self.redrive_policy.managed_policy_arn, description="attach to redrive"
        ).override_logical_id("RedrivePolicyArn")
        CfnOutput(
            self, "CallbackSecretArn", value=self.callback_secret.secret_arn, description="signs completion callbacks"
        ).override_logical_id("CallbackSecretArn")
        CfnOutput(
            self, "StateMachineArn", value=self.state_machine.state_machine_arn, description="the exhaust workflow"
        ).override_logical_id("StateMachineArn")

    def _watch(
        self, monitoring: Monitoring, plan: aws_lambda.Function, builder: aws_lambda.Function, storage: Storage
    ) -> None:
        monitoring.watch_state_machine(self.state_machine)
        watched: tuple[tuple[aws_lambda.IFunction, str], ...] = (
            (plan, "Plan"),
            (builder, "Builder"),
            (self.dispatcher, "Dispatcher"),
            (self.sweeper, "Sweeper"),
            (self.finalize, "Finalize"),
            (self.mark_failed, "MarkFailed"),
        )
        for worker, name in watched:
            monitoring.watch_function(worker, name)
        monitoring.watch_queue_age(storage.queue)

    def allow_lifecycle(self, *, cancel: aws_lambda.Function, delete: aws_lambda.Function) -> None:
        """The API's cancel and delete announce their transitions like the pipeline; cancel also stops executions."""
        for function in (cancel, delete):
            self._bus.grant_put_events_to(function)
            self.callback_secret.grant_read(function)
            for name, value in self._notify_environment.items():
                function.add_environment(name, value)
        cancel.add_environment("EXHAUST_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        cancel.add_to_role_policy(
            aws_iam.PolicyStatement(actions=["states:StopExecution"], resources=[self._executions])
        )
        assert cancel.role is not None
        acknowledge(
            cancel.role,
            "AwsSolutions-IAM5",
            "Cancel stops the execution of the request it cancels, of this one state machine; execution names "
            "(requestId, submission, attempt) are only known at run time.",
            finding=iam5_resource(cancel.role, self._executions),
        )

    def _function(
        self,
        construct_id: str,
        folder: str,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str],
        storage: Storage,
        timeout: Duration,
        reserved_concurrency: int | None = None,
    ) -> ServiceFunction:
        function = ServiceFunction(
            self,
            construct_id,
            function=folder,
            layers=layers,
            environment=environment,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
        )
        apply_grants(function, PIPELINE_GRANTS[folder], storage)
        return function
