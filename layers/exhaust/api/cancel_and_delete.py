"""Glue between the cancel and delete API events and the lifecycle service, so each handler is one line."""

from __future__ import annotations

from functools import lru_cache

from exhaust.api import requests as request_api
from exhaust.api.http import ApiRequest
from exhaust.pipeline.cancel_and_delete import LifecycleService
from exhaust.ports import Workflow
from exhaust.requests.models import JobStatusResponse


@lru_cache(maxsize=1)
def service() -> LifecycleService:
    return LifecycleService()


def use_workflow(workflow: Workflow) -> None:
    """Local mode: cancel stops executions of the in-process runner (exhaust.local.worker), not Step Functions'."""
    service.cache_clear()
    service().workflow = workflow


def refuse_bad_body(request: ApiRequest) -> None:
    """Cancel and delete need no body; one that is sent (`{}`, or params.msgid) must still be a JSON object."""
    if request.body.strip():
        request.json_body()


def cancel(request: ApiRequest) -> JobStatusResponse:
    principal, channel = request_api.channel_of(request)
    refuse_bad_body(request)
    cancelled = service().cancel(principal, channel, request.path_params["tag"], request.query_value("requestId"))
    return request_api.service().view(cancelled, principal)


def delete(request: ApiRequest) -> JobStatusResponse:
    principal, channel = request_api.channel_of(request)
    refuse_bad_body(request)
    deleted = service().delete(principal, channel, request.path_params["tag"], request.query_value("requestId"))
    return request_api.service().view(deleted, principal)
