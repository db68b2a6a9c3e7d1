from typing import Any

from exhaust.api import courses as api
from exhaust.api.http import ApiRequest, api_endpoint
from exhaust.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_endpoint(api.API_ID)
def handler(request: ApiRequest) -> dict[str, Any]:
    return api.list_courses(request)
