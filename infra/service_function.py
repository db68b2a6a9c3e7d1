"""ServiceFunction: every zip Lambda of the service, with runtime, logging and tracing fixed once."""

from __future__ import annotations

from aws_cdk import Duration, aws_lambda, aws_logs
from constructs import Construct

from infra.layer import REPO_ROOT

RUNTIME = aws_lambda.Runtime.PYTHON_3_12
# Graviton: about 20% cheaper per GB-second than x86_64, and every dependency ships aarch64 wheels.
ARCHITECTURE = aws_lambda.Architecture.ARM_64
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/arm64/python3.12/latest"


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
        timeout: Duration | None = None,
        memory_size: int = 512,
        description: str = "",
    ) -> None:
        log_group = aws_logs.LogGroup(
            scope, f"{construct_id}Logs", retention=aws_logs.RetentionDays.ONE_MONTH
        )
        super().__init__(
            scope,
            construct_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=aws_lambda.Code.from_asset(str(REPO_ROOT / "functions" / function)),
            layers=layers,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(29),
            tracing=aws_lambda.Tracing.ACTIVE,
            logging_format=aws_lambda.LoggingFormat.JSON,
            log_group=log_group,
            description=description or f"exhaust {function}",
            environment={
                "POWERTOOLS_SERVICE_NAME": "exhaust",
                "POWERTOOLS_METRICS_NAMESPACE": "DataExhaust",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
