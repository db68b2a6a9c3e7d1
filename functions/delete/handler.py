from typing import Any

from exhaust.api.cancel_and_delete import delete
from exhaust.api.operation import serve
from exhaust.observability import logger, tracer

answer = serve(delete)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
