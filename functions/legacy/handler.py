from exhaust.api import legacy as api
from exhaust.api.http import ApiRequest, RawResponse, api_endpoint
from exhaust.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_endpoint(api.API_ID)
def handler(request: ApiRequest) -> RawResponse:
    return api.download(request)
