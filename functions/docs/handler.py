from exhaust.api.http import ApiRequest, RawResponse, api_endpoint
from exhaust.api.openapi import swagger_page
from exhaust.observability import logger

OPENAPI_PATH = "openapi.json"  # relative, so the page works under any stage prefix


@logger.inject_lambda_context
@api_endpoint("api.docs")
def handler(request: ApiRequest) -> RawResponse:
    return RawResponse(200, swagger_page(OPENAPI_PATH).encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})
