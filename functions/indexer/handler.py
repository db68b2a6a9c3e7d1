from typing import Any

from exhaust.lake import indexer
from exhaust.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return indexer.handle(event)
