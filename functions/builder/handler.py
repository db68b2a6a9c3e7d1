"""The container-image function of the workflow's BuildBatch state (pyarrow, ISA-L)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from exhaust.observability import logger, tracer
from exhaust.pipeline import entry
from exhaust.pipeline.steps import build_batch


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return build_batch.handle(entry.pipeline(), event)
