"""REQUEST authorizer of every private route (the local gateway runs it too)."""

from typing import Any

from exhaust.auth.authorizer import authorize
from exhaust.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
