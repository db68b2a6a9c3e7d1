"""The builder: the container-image Lambda of the workflow's Plan and BuildBatch states (pyarrow, ISA-L).

The image is built from functions/Dockerfile (HANDLER_DIR=functions/builder) with the repository root as context,
of which only the package, its metadata and the handler are sent (the rest of the checkout stays out of the image
and of the asset hash). Synthesis only stages those files; Docker runs at `cdk deploy` (docs/pipeline.md).
"""

from __future__ import annotations

from aws_cdk import Duration, Size
from constructs import Construct
from exhaust.aws_limits import NEW_ACCOUNT_LAMBDA_MEMORY_MB

from infra.grants import PIPELINE_GRANTS, apply_grants
from infra.image_function import ImageServiceFunction
from infra.storage import Storage

# Building one large batch: memory for pyarrow's row groups and the zip pipeline, and 2 vCPUs (1 per 1,769 MB), as
# much as a new account allows. The zip streams into a multipart upload, so /tmp keeps Lambda's default (512 MB).
MEMORY_MB = NEW_ACCOUNT_LAMBDA_MEMORY_MB
EPHEMERAL_STORAGE = Size.mebibytes(512)
TIMEOUT = Duration.minutes(15)


class Builder(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        environment: dict[str, str],
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = ImageServiceFunction(
            self,
            "Function",
            function="builder",
            environment=environment,
            description="exhaust builder: plans a request and builds one batch into an encrypted zip",
            memory_size=MEMORY_MB,
            ephemeral_storage=EPHEMERAL_STORAGE,
            timeout=TIMEOUT,
            # Reserved: builders always find room however busy the account's other functions are, and never take
            # more than this, so a burst of requests cannot starve the API (docs/deploy.md, concurrency).
            reserved_concurrent_executions=reserved_concurrency,
        )
        apply_grants(self.function, PIPELINE_GRANTS["builder"], storage)
