from typing import Any

from exhaust.api.meta import health
from exhaust.api.operation import serve
from exhaust.observability import logger

answer = serve(health)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
