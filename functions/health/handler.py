from typing import Any

from exhaust import __version__
from exhaust.api.http import ApiRequest, api_endpoint
from exhaust.observability import logger


@logger.inject_lambda_context
@api_endpoint("api.health")
def handler(request: ApiRequest) -> dict[str, Any]:
    return {"healthy": True, "version": __version__}
