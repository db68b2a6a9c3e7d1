"""The audit trail of a request: who submitted it, was given its download links, cancelled or deleted it, and when.

Each event is kept with the request (a delete keeps the record, so the trail survives it) and written as one
structured log line ("audit"), with ids only: never a token, a key or a link.
"""

from __future__ import annotations

from exhaust.observability import logger
from exhaust.principal import Principal
from exhaust.requests.models import AuditAction, AuditEvent, ExhaustRequest

# Links handed to the same credential again within this window are one event: a client polling read every few
# seconds does not grow the record (DynamoDB items hold at most 400 KB).
LINKS_EVENT_WINDOW_MS = 3_600_000


def new_event(principal: Principal, action: AuditAction, at: int) -> AuditEvent:
    return AuditEvent(action=action, at=at, userId=principal.user_id, credentialId=principal.credential_id)


def log_event(event: AuditEvent, request: ExhaustRequest) -> None:
    """The event's one log line (once it is kept with the request)."""
    logger.info(
        "audit",
        extra={
            "audit_action": event.action.value,
            "request_id": request.requestId,
            "channel": request.channel,
            "dataset": request.dataset,
            "user_id": event.userId,
            "credential_id": event.credentialId,
            "at": event.at,
        },
    )


def audit_event(principal: Principal, action: AuditAction, request: ExhaustRequest, at: int) -> AuditEvent:
    """A new event, logged as it is made."""
    event = new_event(principal, action, at)
    log_event(event, request)
    return event


def links_already_recorded(request: ExhaustRequest, principal: Principal, at: int) -> bool:
    return any(
        event.action == AuditAction.LINKS
        and event.credentialId == principal.credential_id
        and at - event.at < LINKS_EVENT_WINDOW_MS
        for event in request.audit
    )


def submitters(request: ExhaustRequest) -> list[str]:
    """The credentials that submitted the request (the requester, with its user id)."""
    return [event.credentialId for event in request.audit if event.action == AuditAction.SUBMITTED]
