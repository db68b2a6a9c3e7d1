"""ServiceFunction: every zip Lambda of the service, with runtime, logging, tracing and its own role fixed once."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, aws_iam, aws_lambda, aws_logs
from constructs import Construct
from exhaust.aws_limits import API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS
from exhaust.resources import FUNCTION_ENVIRONMENT

from infra.layer import REPO_ROOT, locked_version
from infra.nag import acknowledge

RUNTIME = aws_lambda.Runtime.PYTHON_3_12
# Graviton: about 20% cheaper per GB-second than x86_64, and every dependency ships aarch64 wheels.
ARCHITECTURE = aws_lambda.Architecture.ARM_64
# API Gateway waits at most 29 s for a REST integration (exhaust.aws_limits); past it the caller gets a bare 504
# whatever the function does later.
API_GATEWAY_INTEGRATION_TIMEOUT = Duration.seconds(API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS)
# API functions stop well before it: a cold container image's init (not counted in the function timeout) and the
# gateway's own hop fit in the 5 s left, so a timed-out handler still reaches the caller as the envelope's 5xx.
API_FUNCTION_TIMEOUT = Duration.seconds(24)
POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"


def powertools_layer_parameter() -> str:
    """The public SSM parameter naming the official Powertools layer of exactly that release (setting
    `powertools_layer=public`), in the regions Powertools publishes it.

    Powertools publishes /aws/service/powertools/python/<arch>/<python>/<version> for each release (and `latest`,
    which would deploy whatever is newest); the version is the lock's, so production runs what the tests ran.
    """
    return f"/aws/service/powertools/python/arm64/python3.12/{locked_version(POWERTOOLS_DISTRIBUTION)}"


TRACING_POLICY_ID = "TracingPolicy"


def tracing_policy(scope: Construct) -> aws_iam.ManagedPolicy:
    """The stack's one X-Ray write policy, shared by every function role (created on first use).

    X-Ray's PutTraceSegments / PutTelemetryRecords have no resource-level permissions, so they need `*`. Keeping
    them in this one policy (instead of the `tracing=ACTIVE` statement CDK adds to each role) lets the `*` be
    acknowledged here, once, and keeps every role's own policy free of any `*`.
    """
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(TRACING_POLICY_ID)
    if isinstance(existing, aws_iam.ManagedPolicy):
        return existing
    policy = aws_iam.ManagedPolicy(
        stack,
        TRACING_POLICY_ID,
        description="X-Ray trace upload for the exhaust functions",
        statements=[
            aws_iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])
        ],
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5",
        "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (AWS docs: "
        "'Resource: *' is required); the policy holds no other action.",
        finding="Resource::*",
    )
    return policy


def function_role(scope: Construct, construct_id: str, log_group: aws_logs.ILogGroup) -> aws_iam.Role:
    """A function's own role: writes to its own log group and X-Ray, nothing else until granted.

    Used instead of CDK's default role, which attaches the AWS managed AWSLambdaBasicExecutionRole (logs on
    every log group of the account). The pipeline's container-image function uses it too.
    """
    role = aws_iam.Role(
        scope,
        construct_id,
        assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[tracing_policy(scope)],
    )
    role.add_to_principal_policy(
        aws_iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
        )
    )
    return role


def enable_active_tracing(function: aws_lambda.Function) -> None:
    """X-Ray active tracing without CDK's per-role `xray:* on *` statement (the role has tracing_policy)."""
    cfn = function.node.default_child
    assert isinstance(cfn, aws_lambda.CfnFunction)
    cfn.tracing_config = aws_lambda.CfnFunction.TracingConfigProperty(mode="Active")


def acknowledge_runtime(function: aws_lambda.Function) -> None:
    acknowledge(
        function,
        "AwsSolutions-L1",
        "python3.12 is pinned on purpose: the dependencies layer (arm64 wheels for python3.12 at the locked "
        "releases, or the official Powertools layer of that runtime) and the local Python 3.11 toolchain set it; "
        "runtime upgrades are a deliberate, tested change.",
    )


def function_log_group_name(stack_name: str, function: str) -> str:
    """Where a function logs: /<stack>/<function folder>, e.g. /exhaust-prod/builder (the runbook's names)."""
    return f"/{stack_name}/{function}"


def common_props(
    scope: Construct, construct_id: str, function: str, environment: dict[str, str] | None, description: str
) -> dict[str, Any]:
    """What every function of the service shares, zip or image: its log group and role, Graviton, JSON logs, the
    Powertools variables and a description naming its folder."""
    log_group = aws_logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        log_group_name=function_log_group_name(Stack.of(scope).stack_name, function),
        retention=aws_logs.RetentionDays.ONE_MONTH,
        # Named, so deleted with the stack: a kept group would block the next deploy of the stage.
        removal_policy=RemovalPolicy.DESTROY,
    )
    return {
        "architecture": ARCHITECTURE,
        "role": function_role(scope, f"{construct_id}Role", log_group),
        "logging_format": aws_lambda.LoggingFormat.JSON,
        "log_group": log_group,
        "description": description or f"exhaust {function}",
        "environment": {
            **FUNCTION_ENVIRONMENT,
            **(environment or {}),
        },
    }


class ServiceFunction(aws_lambda.Function):
    """A thin handler from functions/<name>/ with the shared layers, JSON logs, X-Ray and Powertools vars."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: str,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str] | None = None,
        timeout: Duration,
        memory_size: int = 512,
        description: str = "",
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            runtime=RUNTIME,
            handler="handler.handler",
            code=aws_lambda.Code.from_asset(str(REPO_ROOT / "functions" / function)),
            layers=layers,
            memory_size=memory_size,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrent_executions,
            **common_props(scope, construct_id, function, environment, description),
        )
        enable_active_tracing(self)
        acknowledge_runtime(self)
