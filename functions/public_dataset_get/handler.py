from exhaust.api import standard as api
from exhaust.api.http import ApiRequest, api_endpoint
from exhaust.observability import logger, tracer
from exhaust.standard.files import DatasetFiles


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_endpoint("org.ekstep.analytics.telemetry")
def handler(request: ApiRequest) -> DatasetFiles:
    return api.public_get(request)
