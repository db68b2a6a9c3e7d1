"""ImageServiceFunction: a function shipped as a container image, for handlers that read Parquet.

The builder and the producer are built with it too (infra/builder.py, infra/scheduler.py), with their own sizes.

The legacy and export APIs read the lake with pyarrow, which is too large for a zip Lambda next to the
Powertools layer. A function folder named in exhaust.resources.IMAGE_FUNCTIONS becomes this construct instead of a
ServiceFunction (infra/api.py): same role, logs, tracing and environment, the image built from the one
functions/Dockerfile with HANDLER_DIR=functions/<name>, from the repository root with only the package and the
handler in its context (docs/decisions.md). The handler still loads pyarrow only when it builds an answer, so
refusals stay fast.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode, Size, aws_ecr_assets, aws_lambda
from constructs import Construct
from exhaust.aws_limits import ANSWER_FUNCTION_TMP_BYTES
from exhaust.resources import IMAGE_FUNCTIONS

from infra.layer import REPO_ROOT
from infra.service_function import common_props, enable_active_tracing

# A full vCPU for the Parquet scan and the zip; /tmp holds the zip before it is answered or uploaded.
MEMORY_MB = 1769
EPHEMERAL_STORAGE = Size.mebibytes(ANSWER_FUNCTION_TMP_BYTES // 2**20)


DOCKERFILE = Path("functions") / "Dockerfile"


def has_image(function: str) -> bool:
    return function in IMAGE_FUNCTIONS


def build_context(function: str) -> list[str]:
    """Docker ignore rules: everything but what the Dockerfile copies."""
    return [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!requirements.lock",
        "!layers/exhaust",
        f"!{DOCKERFILE.as_posix()}",
        "layers/exhaust/**/__pycache__",
        f"!functions/{function}",
        f"functions/{function}/**/__pycache__",
    ]


class ImageServiceFunction(aws_lambda.DockerImageFunction):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: str,
        environment: dict[str, str] | None = None,
        description: str = "",
        memory_size: int = MEMORY_MB,
        ephemeral_storage: Size = EPHEMERAL_STORAGE,
        timeout: Duration,
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            code=aws_lambda.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=str(DOCKERFILE),
                build_args={"HANDLER_DIR": f"functions/{function}"},
                exclude=build_context(function),
                ignore_mode=IgnoreMode.DOCKER,
                platform=aws_ecr_assets.Platform.LINUX_ARM64,
            ),
            memory_size=memory_size,
            ephemeral_storage_size=ephemeral_storage,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrent_executions,
            **common_props(scope, construct_id, function, environment, description),
        )
        enable_active_tracing(self)
