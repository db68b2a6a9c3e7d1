"""The on-demand request operations behind submit, read, list and search."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from exhaust import observability, ports
from exhaust.auth.checks import require_any_role
from exhaust.errors import BadRequest, Conflict, Forbidden, TooManyRequests
from exhaust.observability import logger
from exhaust.ports import ConcurrentUpdate, LimitReached
from exhaust.principal import ON_BEHALF_ROLE, Principal
from exhaust.requests import wiring
from exhaust.requests.existing_request import AFRESH, own_request, readiness_fields, readiness_message, starts_afresh
from exhaust.requests.limits import READ_FILES_DEFAULT_LIMIT
from exhaust.requests.models import (
    ExhaustRequest,
    FileLink,
    JobList,
    JobStats,
    JobStatusResponse,
    OutputFile,
    Progress,
    Status,
)
from exhaust.requests.outputs import MANIFEST_NAME, Manifests, manifest_key
from exhaust.requests.rules import (
    SearchRequest,
    SubmitBody,
    SubmitInput,
    check_against_dataset,
    check_user_id,
    is_limit_search,
    request_id,
)
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.datasets.registry import Dataset

# Links per job in list and search answers: a job's links are two URLs of about 1 KB each in AWS (the session
# token), so a page of 1,000 jobs stays far below Lambda's 6 MB response (docs/decisions.md).
LINKS_PER_JOB_IN_PAGES = 1
# Jobs of one list or search answer that carry links (their file's and their manifest's): in AWS a link is about
# 1.5 KB with the session token, so 1,000 linked jobs would answer about 5 MB, near the 6 MB limit. The jobs after
# these carry filesTotal without links (read signs them); a page of any size answers about 1.5 MB at most.
LINKED_JOBS_PER_PAGE = 200
# File links per read answer: each file's link appears twice (files[].url and downloadUrls), about 3 KB in AWS with
# the session token, so the largest page answers about 1.6 MB; the rest are a cursor away (and all of them in the
# manifest, whose link every answer with links carries).
RETRY_AFTER_SECONDS = 60


def now_ms() -> int:
    return int(time.time() * 1000)


def request_body_hash(body: SubmitBody) -> str:
    """What an Idempotency-Key is bound to: the body's `request` as validated, canonically."""
    request = body.request.model_dump(mode="json", exclude_unset=True)
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Submission:
    """A checked submit: who asks, for what, and the request it makes (the same inputs on the same day, the same)."""

    channel: str
    submitted: SubmitInput
    dataset_id: str
    requested_by: str
    request_id: str

    @classmethod
    def today(cls, channel: str, submitted: SubmitInput, dataset_id: str, requested_by: str) -> Submission:
        rid = request_id(
            channel=channel,
            tag=submitted.tag,
            dataset=dataset_id,
            dataset_config=submitted.dataset_config,
            requested_by=requested_by,
            encryption_key=submitted.encryption_key,
            day=datetime.now(UTC).date(),
        )
        return cls(channel, submitted, dataset_id, requested_by, rid)


@dataclass
class RequestService:
    """The operations on the ports of exhaust.ports; the boto3 adapters by default, tests pass their own."""

    store: ports.RequestStore = field(default_factory=wiring.request_store)
    registry: ports.DatasetRegistry = field(default_factory=wiring.dataset_registry)
    queue: ports.RequestQueue = field(default_factory=wiring.request_queue)
    vault: ports.KeyVault = field(default_factory=wiring.key_vault)
    idempotency: ports.IdempotencyRecords = field(default_factory=wiring.idempotency_records)
    signer: ports.LinkSigner = field(default_factory=wiring.link_signer)
    settings: RuntimeSettings = field(default_factory=get_settings)
    manifests: Manifests = field(default_factory=Manifests)

    # -- submit -------------------------------------------------------------------------------------------
    def submit(
        self,
        principal: Principal,
        channel: str,
        body: SubmitBody,
        *,
        on_behalf_of: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobStatusResponse:
        """`idempotency_key`: checked by its type, exhaust.requests.rules.IdempotencyKey."""
        submitted = SubmitInput.of(body)
        dataset = self._dataset_of(principal, submitted)
        requested_by = self._requested_by(principal, on_behalf_of)
        submission = Submission.today(channel, submitted, dataset.datasetId, requested_by)
        if not idempotency_key:
            return self._submit_request(principal, submission)
        return self._submit_once(principal, submission, idempotency_key, request_body_hash(body))

    def _dataset_of(self, principal: Principal, submitted: SubmitInput) -> Dataset:
        """The registered dataset, if the caller may request it and the submit keeps its rules."""
        dataset = self.registry.get(submitted.dataset)
        if dataset is None:
            valid = ", ".join(self.registry.ids("on-demand"))
            raise BadRequest(f"request.dataset: unknown dataset '{submitted.dataset}'; valid datasets: {valid}")
        require_any_role(principal, dataset.authorizedRoles, f"dataset {dataset.datasetId}")
        check_against_dataset(submitted, dataset)
        return dataset

    @staticmethod
    def _requested_by(principal: Principal, on_behalf_of: str | None) -> str:
        if on_behalf_of and (principal.is_admin or ON_BEHALF_ROLE in principal.roles):
            return check_user_id(on_behalf_of)
        return principal.user_id

    def _submit_once(
        self, principal: Principal, submission: Submission, idempotency_key: str, body_hash: str
    ) -> JobStatusResponse:
        """The key is claimed before anything is stored: of concurrent submits under one key exactly one body wins
        (a conditional write); the others get a 409 for another body, and the same request for the same body."""
        record_key = f"{submission.channel}#{principal.credential_id}#{idempotency_key}"
        holder = self.idempotency.claim(record_key, body_hash, submission.request_id)
        if holder is not None:
            if holder["bodyHash"] != body_hash:
                raise Conflict("Idempotency-Key: was already used with a different request body")
            earlier = self.store.get(str(holder["requestId"]))
            if earlier is not None:
                return self.view(earlier, principal)
            # The holder is still storing it: the same body makes the same request, stored once whoever is first.
            return self._submit_request(principal, submission)
        try:
            return self._submit_request(principal, submission)
        except Exception:
            # Nothing was stored (a 429, an AWS error): the key is free again for this or another body.
            self.idempotency.release(record_key, body_hash)
            raise

    def _submit_request(self, principal: Principal, submission: Submission) -> JobStatusResponse:
        """Store the request (anew, or a finished one afresh) and queue it; the same open request is answered as is."""
        rid, submitted = submission.request_id, submission.submitted
        existing = self.store.get(rid)
        if existing is not None and not starts_afresh(existing):
            return self.view(existing, principal)
        self._refuse_second_limit_search(submission.channel, submission.dataset_id, submitted.dataset_config, rid)
        encrypted_key = self.vault.encrypt(submitted.encryption_key, rid) if submitted.encryption_key else None
        request, stored = self._store(submission, existing, encrypted_key)
        if stored:
            self._enqueue(request)
            observability.count(observability.REQUESTS_SUBMITTED, submission.dataset_id)
            logger.info(
                "request submitted",
                extra={"request_id": rid, "channel": submission.channel, "dataset": submission.dataset_id},
            )
        return self.view(request, principal)

    def _store(
        self, submission: Submission, existing: ExhaustRequest | None, encrypted_key: str | None
    ) -> tuple[ExhaustRequest, bool]:
        """The request as stored, and whether this submit stored it (False: a concurrent identical one did)."""
        submitted, moment = submission.submitted, now_ms()
        limit = self.settings.max_open_requests_per_channel
        try:
            if existing is not None:
                return self._reset_failed(existing, encrypted_key, submitted.callback_url, moment), True
            request = ExhaustRequest(
                requestId=submission.request_id,
                channel=submission.channel,
                tag=submitted.tag,
                dataset=submission.dataset_id,
                datasetConfig=submitted.dataset_config,
                requestedBy=submission.requested_by,
                submittedAt=moment,
                updatedAt=moment,
                encryptedKey=encrypted_key,
                callbackUrl=submitted.callback_url,
            )
            if self.store.create(request, open_limit=limit):
                return request, True
        except LimitReached:
            raise TooManyRequests(
                f"X-Channel-Id: channel {submission.channel} has {limit} open requests, the most allowed; "
                "retry when some have finished",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            ) from None
        raced = self.store.get(submission.request_id)
        if raced is None:
            raise ConcurrentUpdate(submission.request_id)
        return raced, False

    def _refuse_second_limit_search(self, channel: str, dataset_id: str, config: dict[str, Any], rid: str) -> None:
        """Seed 002: "Only one request per dataset we can submit with this SearchCriteria" (the limit-based one).

        The same request again is answered unchanged before this check; a different one while the first is open
        is a 409 naming it. Checked at submit: two exactly simultaneous submits can both pass.
        """
        if not is_limit_search(config):
            return
        for found in self.store.open_of(channel, dataset_id):
            if found.requestId != rid and is_limit_search(found.datasetConfig):
                raise Conflict(
                    "request.datasetConfig.searchFilter: only one limit-based searchFilter request per dataset "
                    f"may be open; request {found.requestId} ({dataset_id}) is {found.status.value}. Wait for "
                    "it to end, or name the collections in searchFilter.request.filters.identifier"
                )

    def _reset_failed(
        self, failed: ExhaustRequest, encrypted_key: str | None, callback_url: str | None, moment: int
    ) -> ExhaustRequest:
        """A re-submit of a FAILED, CANCELLED or deleted request starts it afresh: nothing of the last run is shown."""
        fresh = failed.model_copy(
            update={
                "status": Status.SUBMITTED,
                "statusMessage": None,
                "attempts": 0,
                "files": [],
                "progress": Progress(),
                "completedAt": None,
                "executionTimeMs": None,
                "executionArn": None,
                **AFRESH,
                "submittedAt": moment,
                "updatedAt": moment,
                "encryptedKey": encrypted_key,
                "callbackUrl": callback_url,
            }
        )
        try:
            return self.store.replace(fresh, failed.version, open_limit=self.settings.max_open_requests_per_channel)
        except ConcurrentUpdate:
            current = self.store.get(failed.requestId)
            if current is None:
                raise
            return current

    def _enqueue(self, request: ExhaustRequest) -> None:
        try:
            self.queue.send(request.requestId)
        except Exception:
            # The request is stored as SUBMITTED, so nothing is lost; marked, the sweeper queues it at its next run
            # (a minute) instead of after the period that covers retry delays. Unmarked, it still does, later.
            logger.exception("queueing failed; the sweeper will retry", extra={"request_id": request.requestId})
            try:
                self.store.replace(request.model_copy(update={"queueSendFailed": True}), request.version)
            except Exception:
                logger.exception("could not mark the request unqueued", extra={"request_id": request.requestId})

    # -- read / list / search --------------------------------------------------------------------------
    def read(
        self,
        principal: Principal,
        channel: str,
        tag: str,
        rid: str | None,
        limit: int = READ_FILES_DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> JobStatusResponse:
        """The request, with one page of `limit` file links, from the `cursor` of the previous answer."""
        request = own_request(self.store, channel, tag, rid)
        return self.view(request, principal, limit, decode_files_cursor(cursor, request))

    def list_by_tag(self, principal: Principal, channel: str, tag: str, limit: int, cursor: str | None) -> JobList:
        requests, next_cursor = self.store.list_by_tag(channel, tag, limit, cursor)
        jobs = self.page_views(requests, principal)
        return JobList(count=len(jobs), jobs=jobs, nextCursor=next_cursor or None)

    def search(self, principal: Principal, channel: str | None, criteria: SearchRequest) -> JobList:
        supported = criteria.filters.model_dump(exclude_none=True)
        day_range = None
        if "requestedDate" in supported:
            day = date.fromisoformat(supported.pop("requestedDate"))
            start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
            day_range = (start, start + 86_400_000 - 1)
        if not principal.is_admin:
            if channel is None:
                raise BadRequest("X-Channel-Id: header is required")
            asked = supported.get("channel", channel)
            if asked != channel:
                raise Forbidden("request.filters.channel: you may only search your own channel's requests")
            supported["channel"] = channel
        size, cursor = criteria.limit, criteria.cursor
        page, next_cursor = self.store.search(supported, day_range, size, cursor)
        count, exact = self.store.count_matches(supported, day_range)
        jobs = self.page_views(page, principal)
        return JobList(
            count=count, jobs=jobs, nextCursor=next_cursor or None, countIsLowerBound=None if exact else True
        )

    # -- the answer -------------------------------------------------------------------------------------
    def page_views(self, requests: list[ExhaustRequest], principal: Principal | None) -> list[JobStatusResponse]:
        """The jobs of a list or search page: the first LINKED_JOBS_PER_PAGE with links for at most
        LINKS_PER_JOB_IN_PAGES files and the manifest's, the others with filesTotal only."""
        return [
            self.view(request, principal, LINKS_PER_JOB_IN_PAGES if index < LINKED_JOBS_PER_PAGE else 0, paged=False)
            for index, request in enumerate(requests)
        ]

    def view(
        self,
        request: ExhaustRequest,
        principal: Principal | None,
        link_limit: int = READ_FILES_DEFAULT_LIMIT,
        offset: int = 0,
        *,
        paged: bool = True,
    ) -> JobStatusResponse:
        """The JobStatusResponse, with links signed now and only for a caller of the request's own channel.

        Links for `link_limit` files from `offset` (by name) and for the manifest; `filesTotal` says how many files
        there are when not all are linked, and `filesNextCursor` (when `paged`) where the next page starts. So an
        answer's size does not grow with the files of its requests.
        """
        links: list[FileLink] = []
        manifest_url = None
        total = files_total(request)
        message = request.statusMessage
        moment = now_ms()
        linkable = False
        if request.status == Status.SUCCESS and request.completedAt is not None and request.deletedAt is None:
            expires_on = request.completedAt + self.settings.output_retention_days * 86_400_000
            if moment >= expires_on:
                day = datetime.fromtimestamp(expires_on / 1000, UTC).date().isoformat()
                message = f"The files of this request expired on {day}; submit it again to rebuild them"
            else:
                linkable = principal is not None and request.channel in principal.channels
        if linkable and link_limit > 0:
            links = [
                FileLink(name=f.name, rows=f.rows, bytes=f.bytes, sha256=f.sha256, url=self.signer.sign(f.key, f.name))
                for f in self.files_page(request, offset, link_limit)
            ]
            manifest_url = self.signer.sign(manifest_key(request), MANIFEST_NAME)
        after = offset + len(links)
        return JobStatusResponse(
            requestId=request.requestId,
            tag=request.tag,
            dataset=request.dataset,
            datasetConfig=request.datasetConfig,
            requestedBy=request.requestedBy,
            requestedChannel=request.channel,
            status=request.status,
            statusMessage=message or readiness_message(request),
            attempts=request.attempts,
            lastUpdated=request.completedAt or request.submittedAt,
            jobStats=JobStats(
                dtJobSubmitted=request.submittedAt,
                dtJobCompleted=request.completedAt,
                executionTime=request.executionTimeMs,
            ),
            downloadUrls=[link.url for link in links],
            expiresAt=self.signer.expires_at_ms(moment) if links else None,
            progress=request.progress,
            files=links,
            filesTotal=total if linkable and (offset > 0 or after < total) else None,
            manifestUrl=manifest_url,
            filesNextCursor=encode_files_cursor(request, after) if links and paged and after < total else None,
            **readiness_fields(request),
        )

    def files_page(self, request: ExhaustRequest, offset: int, limit: int) -> list[OutputFile]:
        """Files `offset`..`offset + limit`: from the item when it lists them, else from the manifest's pages."""
        if offset + limit <= len(request.files) or files_total(request) <= len(request.files):
            return request.files[offset : offset + limit]
        return self.manifests.files(request, offset, min(limit, files_total(request) - offset))


def files_total(request: ExhaustRequest) -> int:
    return request.filesTotal if request.filesTotal is not None else len(request.files)


def encode_files_cursor(request: ExhaustRequest, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"requestId": request.requestId, "file": offset}).encode()).decode()


def decode_files_cursor(cursor: str | None, request: ExhaustRequest) -> int:
    """The file offset a read cursor holds; one not handed out for this request's files is a 400."""
    if not cursor:
        return 0
    refused = BadRequest("cursor: is not a filesNextCursor this API handed out for this request")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, TypeError, RecursionError):
        raise refused from None
    if not isinstance(value, dict) or set(value) != {"requestId", "file"} or value["requestId"] != request.requestId:
        raise refused
    offset = value["file"]
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 < offset < files_total(request):
        raise refused
    return offset
