"""The builder image's functions: BuildBatch's (the builder) and Plan's, one handler each (pyarrow, ISA-L).

Each image is built from functions/Dockerfile (HANDLER_DIR=functions/builder or functions/plan) with the repository
root as context, of which only the package, its metadata and the handler are sent (the rest of the checkout stays
out of the image and of the asset hash); the two share every layer but the handler's. Synthesis only stages those
files; Docker runs at `cdk deploy` (docs/pipeline.md).
"""

from __future__ import annotations

from aws_cdk import Duration, Size
from constructs import Construct
from exhaust.resources import BUILDER_MEMORY_MB, BUILDER_TIMEOUT_SECONDS

from infra.grants import PIPELINE_GRANTS, apply_grants
from infra.image_function import ImageServiceFunction
from infra.storage import Storage

# Building one large batch (exhaust.resources says why these limits). The zip streams into a multipart upload, so
# /tmp keeps Lambda's default (512 MB, the minimum).
MEMORY_MB = BUILDER_MEMORY_MB
EPHEMERAL_STORAGE = Size.mebibytes(512)
TIMEOUT = Duration.seconds(BUILDER_TIMEOUT_SECONDS)


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
        # Reserved: builders always find room however busy the account's other functions are, and never take more
        # than this, so a burst of requests cannot starve the API (docs/deploy.md, concurrency).
        self.function = self._image_function(
            "Function",
            "builder",
            "exhaust builder: builds one batch of a request into an encrypted zip",
            storage,
            environment,
            reserved_concurrency,
        )
        # Plan reads the lake's catalog as the builder reads its tables, within the same limits. No reserved
        # concurrency: it runs once per execution (at most max_running_total at a time), and a throttled Plan is
        # retried by the workflow, so the account's concurrency quota needs no more room than before.
        self.plan_function = self._image_function(
            "PlanFunction",
            "plan",
            "exhaust plan: resolves a request's batches and writes the list the map builds",
            storage,
            environment,
            None,
        )

    def _image_function(
        self,
        construct_id: str,
        function: str,
        description: str,
        storage: Storage,
        environment: dict[str, str],
        reserved_concurrency: int | None,
    ) -> ImageServiceFunction:
        """A function of the builder image with the builder's limits and the grants of its step."""
        built = ImageServiceFunction(
            self,
            construct_id,
            function=function,
            environment=environment,
            description=description,
            memory_size=MEMORY_MB,
            ephemeral_storage=EPHEMERAL_STORAGE,
            timeout=TIMEOUT,
            reserved_concurrent_executions=reserved_concurrency,
        )
        apply_grants(built, PIPELINE_GRANTS[function], storage)
        return built
