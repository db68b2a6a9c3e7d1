"""The builder: the container-image Lambda of the workflow's Plan and BuildBatch states (pyarrow, pyzipper).

The image is built from functions/builder/Dockerfile with the repository root as context, of which only the
package, its metadata and the handler are sent (the rest of the checkout stays out of the image and of the asset
hash). Synthesis only stages those files; Docker runs at `cdk deploy` (docs/pipeline.md).
"""

from __future__ import annotations

from aws_cdk import Duration, IgnoreMode, Size, aws_ecr_assets, aws_lambda, aws_logs
from constructs import Construct

from infra.grants import PIPELINE_GRANTS, apply_grants
from infra.layer import REPO_ROOT
from infra.service_function import ARCHITECTURE, enable_active_tracing, function_role
from infra.storage import Storage

# Docker ignore rules: everything but what the Dockerfile copies.
BUILD_CONTEXT = [
    "*",
    "!pyproject.toml",
    "!README.md",
    "!requirements.lock",
    "!layers/exhaust",
    "layers/exhaust/**/__pycache__",
    "!functions/builder",
]
# Building one large batch: memory for pyarrow's row groups and the zip pipeline; /tmp holds the zip before upload.
MEMORY_MB = 3008
EPHEMERAL_STORAGE = Size.gibibytes(10)
TIMEOUT = Duration.minutes(15)


class Builder(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage, environment: dict[str, str]) -> None:
        super().__init__(scope, construct_id)
        log_group = aws_logs.LogGroup(self, "Logs", retention=aws_logs.RetentionDays.ONE_MONTH)
        role = function_role(self, "Role", log_group)
        self.function = aws_lambda.DockerImageFunction(
            self,
            "Function",
            code=aws_lambda.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file="functions/builder/Dockerfile",
                exclude=BUILD_CONTEXT,
                ignore_mode=IgnoreMode.DOCKER,
                platform=aws_ecr_assets.Platform.LINUX_ARM64,
            ),
            architecture=ARCHITECTURE,
            role=role,
            memory_size=MEMORY_MB,
            ephemeral_storage_size=EPHEMERAL_STORAGE,
            timeout=TIMEOUT,
            logging_format=aws_lambda.LoggingFormat.JSON,
            log_group=log_group,
            description="exhaust builder: plans a request and builds one batch into an encrypted zip",
            environment={
                "POWERTOOLS_SERVICE_NAME": "exhaust",
                "POWERTOOLS_METRICS_NAMESPACE": "DataExhaust",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        enable_active_tracing(self.function)
        apply_grants(self.function, PIPELINE_GRANTS["builder"], storage)
