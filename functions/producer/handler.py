from typing import Any

from exhaust.observability import logger, tracer
from exhaust.standard import producer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = producer.run(event)
    logger.info("standard datasets produced", extra={"days": [day["date"] for day in result["days"]]})
    return result
