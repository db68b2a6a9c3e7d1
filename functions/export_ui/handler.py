from typing import Any

from exhaust.api.export_ui import export_ui
from exhaust.api.operation import serve
from exhaust.observability import logger

answer = serve(export_ui)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, context)
