from typing import Any

from exhaust.api.operation import serve
from exhaust.api.routes import openapi_document
from exhaust.observability import logger

answer = serve(openapi_document)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
