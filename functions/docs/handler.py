from exhaust.api.http import ApiRequest, RawResponse, api_endpoint
from exhaust.api.swagger import swagger_page
from exhaust.observability import logger

# The document by a relative URL, so the page works under any stage prefix.
SETUP = '    window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui"});'


@logger.inject_lambda_context
@api_endpoint("api.docs")
def handler(request: ApiRequest) -> RawResponse:
    return RawResponse(
        200,
        swagger_page("Data exhaust service API", SETUP).encode("utf-8"),
        {"Content-Type": "text/html; charset=utf-8"},
    )
