"""An existing request as its channel finds, reads and re-submits it: its own request or a 404, whether a submit starts
it afresh, its data readiness (the cancel and delete operations: exhaust.pipeline.cancel_and_delete)."""

from __future__ import annotations

from typing import Any

from exhaust.errors import BadRequest, NotFound
from exhaust.ports import RequestRecords
from exhaust.requests.models import REQUEST_ID, REQUEST_ID_RULE, ExhaustRequest, Status
from exhaust.timestamps import iso_utc

NOT_FOUND_MESSAGE = "no job available with the given request_id and tag"


def own_request(store: RequestRecords, channel: str, tag: str, rid: str | None) -> ExhaustRequest:
    """The request `rid` of this channel and tag; another channel's or tag's is the same 404 as a missing one."""
    if not rid:
        raise BadRequest("requestId: query parameter is required")
    if not REQUEST_ID.fullmatch(rid.strip()):
        raise BadRequest(f"requestId: {REQUEST_ID_RULE}")
    request = store.get(rid.strip().upper())
    if request is None or request.channel != channel or request.tag != tag:
        raise NotFound(NOT_FOUND_MESSAGE)
    return request


def starts_afresh(request: ExhaustRequest) -> bool:
    """Whether a submit of this existing request builds it again (FAILED, CANCELLED, or its files deleted)."""
    return request.status in (Status.FAILED, Status.CANCELLED) or request.deletedAt is not None


# What a fresh start clears beyond the run's own fields (exhaust.requests.service resets those).
AFRESH: dict[str, Any] = {"deletedAt": None, "dataAvailableUntil": None, "dataComplete": None, "filesTotal": None}


def readiness_fields(request: ExhaustRequest) -> dict[str, Any]:
    """dataAvailableUntil (ISO 8601 UTC) and dataComplete of the answer, once Plan has recorded them."""
    if request.dataAvailableUntil is None:
        return {}
    return {"dataAvailableUntil": iso_utc(request.dataAvailableUntil), "dataComplete": request.dataComplete}


def readiness_message(request: ExhaustRequest) -> str | None:
    """What an open or built request says when its scope reaches past the complete data (built and marked)."""
    if request.dataComplete is not False or request.dataAvailableUntil is None or request.deletedAt is not None:
        return None
    if request.status not in (Status.PROCESSING, Status.SUCCESS):
        return None
    return (
        f"Built from data complete up to {iso_utc(request.dataAvailableUntil)}; the request's scope reaches past it, "
        "so activity after that instant is not in the files; the same request submitted on a later day is built "
        "from the data complete by then"
    )
