from exhaust.api import export_ui as ui
from exhaust.api.http import ApiRequest, RawResponse, api_endpoint
from exhaust.observability import logger


@logger.inject_lambda_context
@api_endpoint("api.export.ui")
def handler(request: ApiRequest) -> RawResponse:
    return RawResponse(200, ui.page().encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})
