"""The cancel and delete operations (exhaust.pipeline.cancel_and_delete), answered as read answers the request."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from exhaust.api import requests as request_api
from exhaust.api.operation import Operation, Outcome
from exhaust.api.outcomes import NOT_FOUND
from exhaust.api.parameters import Channel, PathIdentifier, RequestId
from exhaust.auth.checks import require_channel
from exhaust.pipeline.cancel_and_delete import LifecycleService
from exhaust.ports import Workflow
from exhaust.principal import Principal
from exhaust.requests.models import JobStatusResponse
from exhaust.validation import Body

# The request's status does not allow the operation.
STATUS_CONFLICT = Outcome(409, "The request's status does not allow it (cancel: SUCCESS or FAILED; delete: still open)")


class OptionalBody(Body):
    """Nothing is needed; a body that is sent must be a JSON object (its params.msgid is echoed)."""


@lru_cache(maxsize=1)
def service() -> LifecycleService:
    return LifecycleService()


def use_workflow(workflow: Workflow) -> None:
    """Local mode: cancel stops executions of the in-process runner (the dev kit's local mode), not Step Functions'."""
    service.cache_clear()
    service().workflow = workflow


def ending(action: Literal["cancel", "delete"], summary: str) -> Operation:
    """Cancel and delete: the same inputs, the request answered after the service's `action`."""
    act = {"cancel": LifecycleService.cancel, "delete": LifecycleService.delete}[action]

    @request_api.request_operation(
        f"POST /api/dataset/v1/request/{action}/{{tag}}",
        f"{request_api.API_ID}{action}",
        summary,
        function=action,
        statuses=(NOT_FOUND, STATUS_CONFLICT),
    )
    def end(
        principal: Principal,
        channel: Channel,
        tag: PathIdentifier,
        body: OptionalBody | None = None,  # checked before the request is looked for, as its absence is fine
        *,
        request_id: RequestId,
    ) -> JobStatusResponse:
        principal, channel = require_channel(principal, channel)
        ended = act(service(), principal, channel, tag, request_id)
        return request_api.service().view(ended, principal)

    return end


cancel = ending(
    "cancel", "Cancel a SUBMITTED or PROCESSING request: its execution stops, files built so far are removed"
)
delete = ending(
    "delete", "Delete a finished request's files and manifest now; the request stays readable, without links"
)
