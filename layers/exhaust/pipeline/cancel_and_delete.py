"""Cancel and delete: the partner ends a request early, or removes a finished request's files before they expire.

Cancel: SUBMITTED or PROCESSING -> CANCELLED, a conditional write, so a dispatcher claiming the request or a step
recording a batch at the same moment either loses or is re-read and cancelled. Then the execution is stopped (the
Workflow port), and every object under the request's prefix is removed. A step of the stopped execution that was
already running finds the request no longer PROCESSING under its execution (StaleExecution) and changes nothing;
the builder removes a zip it finished after the cancel (exhaust.pipeline.steps). A cancelled request answers
CANCELLED and can be submitted again; it then starts afresh, as a FAILED one does.

Delete: a finished (SUCCESS, FAILED or CANCELLED) request's zips and manifest are removed from S3 now, not at the
bucket's lifecycle expiry. The record stays, with no files and a statusMessage saying when; links handed out earlier
answer S3's 403 (the signing role may not list the prefix, so S3 does not say 404). A deleted request submitted
again starts afresh too.

Both are idempotent: a repeat answers the same request, and removes again whatever is under the prefix (so a call
cut short halfway is completed by calling again), without a second notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from exhaust import aws, ports
from exhaust.auth.checks import require_any_role
from exhaust.errors import Conflict, NotFound
from exhaust.observability import logger
from exhaust.pipeline.executions import StepFunctionsWorkflow
from exhaust.pipeline.notify import CANCELLED_EVENT, DELETED_EVENT, Notifier, notices_for
from exhaust.pipeline.steps import Pipeline
from exhaust.ports import ConcurrentUpdate
from exhaust.principal import Principal
from exhaust.requests import wiring
from exhaust.requests.existing_request import NOT_FOUND_MESSAGE, own_request
from exhaust.requests.models import FINISHED_STATUSES, OPEN_STATUSES, ExhaustRequest, Status
from exhaust.requests.outputs import key_prefix
from exhaust.settings import get_settings
from exhaust.timestamps import iso_utc

UPDATE_ATTEMPTS = 10
# DeleteObjects takes at most 1,000 keys per call (Amazon S3 API Reference, DeleteObjects).
S3_DELETE_OBJECTS_MAX_KEYS = 1000
# Called from an API function (29 s at most): a receiver that is down costs two tries here, not the pipeline's four.
LIFECYCLE_CALLBACK_ATTEMPTS = 2
CANCEL_PATH = "/api/dataset/v1/request/cancel/{tag}?requestId={requestId}"
DELETE_PATH = "/api/dataset/v1/request/delete/{tag}?requestId={requestId}"


def now_ms() -> int:
    return int(time.time() * 1000)


class RequestOutputs:
    """The objects of requests under the exhaust bucket's requests/ prefix."""

    def __init__(self, bucket: str | None = None):
        self.bucket = bucket or get_settings().exhaust_bucket

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = aws.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def remove(self, prefix: str) -> int:
        """Delete every object under `prefix`; answer how many there were."""
        keys = list(self.keys(prefix))
        s3 = aws.client("s3")
        for start in range(0, len(keys), S3_DELETE_OBJECTS_MAX_KEYS):
            chunk = keys[start : start + S3_DELETE_OBJECTS_MAX_KEYS]
            answer = s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise RuntimeError(f"S3 refused to delete {first.get('Key')}: {first.get('Code')}")
        return len(keys)


@dataclass
class LifecycleService:
    """Cancel and delete on the ports of exhaust.ports; the AWS adapters by default, tests pass their own."""

    store: ports.RequestRecords = field(default_factory=wiring.request_store)
    registry: ports.DatasetRegistry = field(default_factory=wiring.dataset_registry)
    workflow: ports.Workflow = field(default_factory=StepFunctionsWorkflow)
    outputs: RequestOutputs = field(default_factory=RequestOutputs)
    # Announces through the request's outbox, as the pipeline does (what fails here the sweeper sends again).
    pipeline: Pipeline = field(
        default_factory=lambda: Pipeline(notifier=Notifier(callback_attempts=LIFECYCLE_CALLBACK_ATTEMPTS))
    )
    clock: Callable[[], int] = now_ms

    def find(self, principal: Principal, channel: str, tag: str, rid: str | None) -> ExhaustRequest:
        """The caller's own request, which it may end only with a role the dataset allows (as for submit)."""
        request = own_request(self.store, channel, tag, rid)
        dataset = self.registry.get(request.dataset)
        if dataset is not None:
            require_any_role(principal, dataset.authorizedRoles, f"dataset {dataset.datasetId}")
        return request

    def transition(
        self, request: ExhaustRequest, operation: str, change: Callable[[ExhaustRequest, int], ExhaustRequest | None]
    ) -> tuple[ExhaustRequest, bool]:
        """Apply `change` (None: already done; it raises Conflict when the status forbids it) with a conditional
        write, again on a fresh copy when someone else wrote first; answer the request and whether it changed."""
        for _ in range(UPDATE_ATTEMPTS):
            changed = change(request, self.clock())
            if changed is None:
                return request, False
            try:
                return self.store.replace(changed, request.version), True
            except ConcurrentUpdate:
                fresh = self.store.get(request.requestId)
                if fresh is None:
                    raise NotFound(NOT_FOUND_MESSAGE) from None
                request = fresh
        raise Conflict(f"requestId: request {request.requestId} kept changing; try the {operation} again")

    # -- cancel -------------------------------------------------------------------------------------------
    def cancel(self, principal: Principal, channel: str, tag: str, rid: str | None) -> ExhaustRequest:
        def cancelled(request: ExhaustRequest, moment: int) -> ExhaustRequest | None:
            if request.status == Status.CANCELLED:
                return None
            if request.status not in OPEN_STATUSES:
                raise Conflict(
                    f"requestId: request {request.requestId} is {request.status.value}; only SUBMITTED or "
                    "PROCESSING requests can be cancelled (remove a finished request's files with POST "
                    f"{DELETE_PATH.format(tag=tag, requestId=request.requestId)})"
                )
            return request.model_copy(
                update={
                    "status": Status.CANCELLED,
                    "statusMessage": f"Cancelled on {iso_utc(moment)} by {principal.user_id or principal.name}",
                    "files": [],
                    "filesTotal": None,
                    "completedAt": moment,
                    "encryptedKey": None,
                    "updatedAt": moment,
                    "outbox": notices_for(request),
                }
            )

        request, changed = self.transition(self.find(principal, channel, tag, rid), "cancel", cancelled)
        if request.executionArn:
            self.workflow.stop(request.executionArn, f"request {request.requestId} cancelled by its partner")
        self.finish(request, changed, CANCELLED_EVENT)
        return request

    # -- delete -------------------------------------------------------------------------------------------
    def delete(self, principal: Principal, channel: str, tag: str, rid: str | None) -> ExhaustRequest:
        def deleted(request: ExhaustRequest, moment: int) -> ExhaustRequest | None:
            if request.status not in FINISHED_STATUSES:
                raise Conflict(
                    f"requestId: request {request.requestId} is {request.status.value}; cancel it first with POST "
                    f"{CANCEL_PATH.format(tag=tag, requestId=request.requestId)}"
                )
            if request.deletedAt is not None:
                return None
            # The record says so first: a link is never answered for a file that may already be gone.
            return request.model_copy(
                update={
                    "files": [],
                    "filesTotal": None,
                    "deletedAt": moment,
                    "statusMessage": f"The files of this request were deleted on {iso_utc(moment)}",
                    "updatedAt": moment,
                    "outbox": notices_for(request),
                }
            )

        request, changed = self.transition(self.find(principal, channel, tag, rid), "delete", deleted)
        self.finish(request, changed, DELETED_EVENT)
        return request

    def finish(self, request: ExhaustRequest, changed: bool, event: str) -> None:
        """Remove what is under the request's prefix (on a repeat too); announce the transition once (its outbox)."""
        removed = self.outputs.remove(key_prefix(request))
        logger.info(
            f"request {event}", extra={"request_id": request.requestId, "files_removed": removed, "repeat": not changed}
        )
        if changed:
            self.pipeline.announce(request)
