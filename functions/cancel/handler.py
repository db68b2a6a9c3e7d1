from exhaust.api import cancel_and_delete
from exhaust.api.http import ApiRequest, api_endpoint
from exhaust.observability import logger, tracer
from exhaust.requests.models import JobStatusResponse


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_endpoint("ekstep.analytics.dataset.request.cancel")
def handler(request: ApiRequest) -> JobStatusResponse:
    return cancel_and_delete.cancel(request)
