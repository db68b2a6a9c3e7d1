"""Glue between API events and the request service, so each handler is one line."""

from __future__ import annotations

from functools import lru_cache

from exhaust.api.http import ApiRequest
from exhaust.auth.checks import CHANNEL_HEADER, require_channel
from exhaust.principal import Principal
from exhaust.requests.models import JobStatusResponse
from exhaust.requests.service import RequestService

USER_HEADER = "X-Authenticated-Userid"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def channel_of(request: ApiRequest) -> tuple[Principal, str]:
    return require_channel(request.principal, request.header(CHANNEL_HEADER))


@lru_cache(maxsize=1)
def service() -> RequestService:
    return RequestService()


def submit(request: ApiRequest) -> JobStatusResponse:
    principal, channel = channel_of(request)
    return service().submit(
        principal,
        channel,
        request.json_body(),
        on_behalf_of=request.header(USER_HEADER),
        idempotency_key=request.header(IDEMPOTENCY_HEADER),
    )


def read(request: ApiRequest) -> JobStatusResponse:
    principal, channel = channel_of(request)
    return service().read(
        principal,
        channel,
        request.path_params["tag"],
        request.query_value("requestId"),
        request.query_value("limit"),
        request.query_value("cursor"),
    )


def list_requests(request: ApiRequest) -> dict[str, object]:
    principal, channel = channel_of(request)
    return service().list_by_tag(
        principal,
        channel,
        request.path_params["tag"],
        request.query_value("limit"),
        request.query_value("cursor"),
    )


def search(request: ApiRequest) -> dict[str, object]:
    principal = request.principal
    channel = channel_of(request)[1] if request.header(CHANNEL_HEADER) or not principal.is_admin else None
    return service().search(principal, channel, request.json_body())
