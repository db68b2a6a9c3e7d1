from typing import Any

from exhaust.api.datasets import list_datasets
from exhaust.api.operation import serve
from exhaust.observability import logger, tracer

answer = serve(list_datasets)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
