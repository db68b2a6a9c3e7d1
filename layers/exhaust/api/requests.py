"""The on-demand request operations: submit, read, list and search (cancel and delete: api.cancel_and_delete)."""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Annotated

from pydantic import Field

from exhaust.api.operation import Header, Outcome, Query, operation
from exhaust.api.outcomes import NOT_FOUND
from exhaust.api.parameters import Channel, OptionalChannel, PathIdentifier, RequestId
from exhaust.auth.checks import require_channel
from exhaust.principal import Principal
from exhaust.requests.limits import LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, READ_FILES_DEFAULT_LIMIT, READ_FILES_MAX_LIMIT
from exhaust.requests.models import JobList, JobStatusResponse
from exhaust.requests.rules import IdempotencyKey, SearchBody, SubmitBody
from exhaust.requests.service import RequestService
from exhaust.validation import refused

REQUESTS = "exhaust requests"
API_ID = "ekstep.analytics.dataset.request."
USER_HEADER = "X-Authenticated-Userid"
IDEMPOTENCY_HEADER = "Idempotency-Key"
request_operation = partial(operation, auth="token", tag=REQUESTS)
FilesLimit = Annotated[
    int, Field(ge=1, le=READ_FILES_MAX_LIMIT), refused(f"must be an integer from 1 to {READ_FILES_MAX_LIMIT}")
]
JobsLimit = Annotated[int, Field(ge=1, le=LIST_MAX_LIMIT), refused(f"must be an integer from 1 to {LIST_MAX_LIMIT}")]


@lru_cache(maxsize=1)
def service() -> RequestService:
    return RequestService()


@request_operation(
    "POST /api/dataset/v1/request/submit",
    f"{API_ID}submit",
    "Submit an on-demand exhaust request",
    statuses=(
        Outcome(409, "Idempotency-Key reused with a different body, or a second open limit-based searchFilter"),
        Outcome(429, "The channel's open-request limit (or the stage's throttling); see Retry-After"),
    ),
)
def submit(
    principal: Principal,
    channel: Channel,
    body: SubmitBody,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header("Replays the first answer for 24 hours; another body under the same key is a 409", IDEMPOTENCY_HEADER),
    ] = None,
    on_behalf_of: Annotated[str | None, Header("requestedBy, for tokens with the ON_BEHALF role", USER_HEADER)] = None,
) -> JobStatusResponse:
    principal, channel = require_channel(principal, channel)
    return service().submit(principal, channel, body, on_behalf_of=on_behalf_of, idempotency_key=idempotency_key)


@request_operation(
    "GET /api/dataset/v1/request/read/{tag}",
    f"{API_ID}info",
    "Read one request, with fresh download links (a page of them, and the manifest's)",
    statuses=(NOT_FOUND,),
)
def read(
    principal: Principal,
    channel: Channel,
    tag: PathIdentifier,
    request_id: RequestId,
    limit: Annotated[FilesLimit, Query("File links per answer")] = READ_FILES_DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query("filesNextCursor of the previous answer: the next page of file links")] = None,
) -> JobStatusResponse:
    principal, channel = require_channel(principal, channel)
    return service().read(principal, channel, tag, request_id, limit, cursor)


@request_operation(
    "GET /api/dataset/v1/request/list/{tag}", f"{API_ID}list", "List a tag's requests, newest first", function="list"
)
def list_requests(
    principal: Principal,
    channel: Channel,
    tag: PathIdentifier,
    limit: Annotated[JobsLimit, Query("Jobs per page")] = LIST_DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query("nextCursor of the previous page")] = None,
) -> JobList:
    principal, channel = require_channel(principal, channel)
    return service().list_by_tag(principal, channel, tag, limit, cursor)


@request_operation(
    "POST /api/dataset/v1/request/search", f"{API_ID}search", "Search requests by dataset, channel, status and date"
)
def search(principal: Principal, channel: OptionalChannel = None, *, body: SearchBody) -> JobList:
    if channel is not None or not principal.is_admin:
        principal, channel = require_channel(principal, channel)
    return service().search(principal, channel, body.request)
