from typing import Any

from exhaust.api import datasets as api
from exhaust.api.http import ApiRequest, api_endpoint
from exhaust.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_endpoint("ekstep.analytics.dataset.add")
def handler(request: ApiRequest) -> dict[str, Any]:
    return api.add(request)
