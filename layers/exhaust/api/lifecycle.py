"""The cancel and delete operations (exhaust.pipeline.lifecycle), answered as read answers the request."""

from __future__ import annotations

from functools import lru_cache

from exhaust.api import requests as request_api
from exhaust.api.operation import Outcome, operation
from exhaust.api.outcomes import NOT_FOUND
from exhaust.api.parameters import Channel, PathIdentifier, RequestId
from exhaust.auth.checks import require_channel
from exhaust.pipeline.lifecycle import LifecycleService
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
    """Local mode: cancel stops executions of the in-process runner (exhaust.local.worker), not Step Functions'."""
    service.cache_clear()
    service().workflow = workflow


@operation(
    "POST",
    "/api/dataset/v1/request/cancel/{tag}",
    function="cancel",
    api_id="ekstep.analytics.dataset.request.cancel",
    auth="token",
    summary="Cancel a SUBMITTED or PROCESSING request: its execution stops, files built so far are removed",
    tag=request_api.REQUESTS,
    statuses=(NOT_FOUND, STATUS_CONFLICT),
)
def cancel(
    principal: Principal, channel: Channel, tag: PathIdentifier, request_id: RequestId, body: OptionalBody | None = None
) -> JobStatusResponse:
    principal, channel = require_channel(principal, channel)
    cancelled = service().cancel(principal, channel, tag, request_id)
    return request_api.service().view(cancelled, principal)


@operation(
    "POST",
    "/api/dataset/v1/request/delete/{tag}",
    function="delete",
    api_id="ekstep.analytics.dataset.request.delete",
    auth="token",
    summary="Delete a finished request's files and manifest now; the request stays readable, without links",
    tag=request_api.REQUESTS,
    statuses=(NOT_FOUND, STATUS_CONFLICT),
)
def delete(
    principal: Principal, channel: Channel, tag: PathIdentifier, request_id: RequestId, body: OptionalBody | None = None
) -> JobStatusResponse:
    principal, channel = require_channel(principal, channel)
    deleted = service().delete(principal, channel, tag, request_id)
    return request_api.service().view(deleted, principal)
