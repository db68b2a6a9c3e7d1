"""The container-image function of the workflow's Plan state (it reads the lake's catalog with pyarrow)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from exhaust.observability import logger, tracer
from exhaust.pipeline import entry
from exhaust.pipeline.steps import plan


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return plan.handle(entry.pipeline(), event)
