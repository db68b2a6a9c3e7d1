from typing import Any

from exhaust.api.operation import serve
from exhaust.api.requests import list_requests
from exhaust.observability import logger, tracer

answer = serve(list_requests)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
