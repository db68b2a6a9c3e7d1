import json

from exhaust.api.http import ApiRequest, RawResponse, api_endpoint
from exhaust.api.openapi import document
from exhaust.observability import logger


@logger.inject_lambda_context
@api_endpoint("api.openapi")
def handler(request: ApiRequest) -> RawResponse:
    body = json.dumps(document(), indent=2).encode("utf-8")
    return RawResponse(200, body, {"Content-Type": "application/json; charset=utf-8"})
