from typing import Any

from exhaust.api.legacy import download, download_yesterday
from exhaust.api.operation import serve
from exhaust.observability import logger, tracer

answer = serve(download, download_yesterday)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
