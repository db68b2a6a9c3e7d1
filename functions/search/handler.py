from exhaust.api import requests as api
from exhaust.api.http import ApiRequest, api_endpoint
from exhaust.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_endpoint("ekstep.analytics.dataset.request.search")
def handler(request: ApiRequest) -> dict[str, object]:
    return api.search(request)
