"""DynamoDB in local mode answers one call at a time, as atomically as DynamoDB does.

moto checks a ConditionExpression and then writes, with no lock between the two: two threads of the local
gateway can both pass `attribute_not_exists(...)` or `openCount < :limit` and both write, which DynamoDB never
allows. Every conditional write of the service (Idempotency-Key claims, the open-request counter, the request
state machine) relies on that atomicity, so local mode serializes moto's DynamoDB calls. The other services are
left concurrent; DynamoDB's share of a local run's time is small.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()


def serialize_dynamodb() -> None:
    """Make each moto DynamoDB call (in this process: moto's server or mock_aws) run alone. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
