"""The request record as stored, and the JobStatusResponse answered to partners (seeds 001/002)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Status(StrEnum):
    SUBMITTED = "SUBMITTED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


OPEN_STATUSES = (Status.SUBMITTED, Status.PROCESSING)
# What a requestId can look like (rules.request_id makes 32 upper-case hex digits); anything else is a 400.
REQUEST_ID = re.compile(r"[A-Za-z0-9]{1,64}")
# The same, with the spaces around it that are trimmed: the requestId query parameter's schema.
REQUEST_ID_PATTERN = rf"^\s*{REQUEST_ID.pattern}\s*$"
REQUEST_ID_RULE = "must be the requestId submit answered (1 to 64 letters and digits)"
FINISHED_STATUSES = (Status.SUCCESS, Status.FAILED, Status.CANCELLED)


MAX_ATTEMPTS = 3


class OutputFile(BaseModel):
    name: str
    key: str
    rows: int
    bytes: int
    sha256: str
    batchId: str = ""


class Progress(BaseModel):
    """Counters the builders add to atomically, once per batch (RequestStore.record_batch)."""

    batchesTotal: int = 0
    batchesDone: int = 0
    rowsWritten: int = 0
    bytesWritten: int = 0


class AuditAction(StrEnum):
    SUBMITTED = "submitted"
    LINKS = "links"
    CANCELLED = "cancelled"
    DELETED = "deleted"


class AuditEvent(BaseModel):
    """Who did what to a request, and when: kept with the request (a delete keeps it too), shown to the org's
    admins by read."""

    action: AuditAction
    at: int = Field(description="Epoch ms")
    userId: str = Field(description="The acting token's user id")
    credentialId: str = Field(description="The acting token's credentialId (`exhaust token list`)")


class ExhaustRequest(BaseModel):
    """One exhaust request, as stored in the requests table (the encryption key only as KMS ciphertext)."""

    requestId: str
    channel: str
    tag: str
    dataset: str
    datasetConfig: dict[str, Any]
    requestedBy: str
    status: Status = Status.SUBMITTED
    statusMessage: str | None = None
    attempts: int = 0
    submittedAt: int  # epoch ms
    updatedAt: int
    completedAt: int | None = None
    executionTimeMs: int | None = None
    # The first files by name (exhaust.requests.outputs.FILES_ON_ITEM); with filesTotal, how many the request has
    # in all (its manifest in S3 lists them). Without filesTotal (items written before), all of them.
    files: list[OutputFile] = Field(default_factory=list)
    filesTotal: int | None = None
    progress: Progress = Field(default_factory=Progress)
    encryptedKey: str | None = None
    callbackUrl: str | None = None
    executionArn: str | None = None
    # The pipeline's bookkeeping (docs/pipeline.md, "Faults and recovery"): returns to SUBMITTED after an
    # infrastructure failure (they do not count as attempts), since when such failures last, and the completion
    # notices ("event", "callback") not delivered yet.
    deferrals: int = 0
    transientSince: int | None = None
    outbox: list[str] = Field(default_factory=list)
    # Submit stored the request but could not queue it: the sweeper queues it again at its next run.
    queueSendFailed: bool = False
    # Data readiness (exhaust.readiness), recorded by Plan: the lake's completeness marker (epoch ms) and
    # whether it covers the request's scope; deletedAt: when the partner deleted the files (epoch ms).
    dataAvailableUntil: int | None = None
    dataComplete: bool | None = None
    deletedAt: int | None = None
    # The courses (collection ids) its batches belong to, as the lake's course directory said at submit: who of the
    # channel's COURSE_ADMINs may see it (exhaust.auth.scope). Empty: an organisation-wide request, or none known.
    courses: list[str] = Field(default_factory=list)
    audit: list[AuditEvent] = Field(default_factory=list)
    version: int = 1

    @property
    def tag_key(self) -> str:
        return f"{self.channel}#{self.tag}"


class JobStats(BaseModel):
    dtJobSubmitted: int
    dtJobCompleted: int | None = None
    executionTime: int | None = None


class FileLink(BaseModel):
    name: str
    rows: int
    bytes: int
    sha256: str
    url: str


class JobStatusResponse(BaseModel):
    """What read, list, search and submit answer for a request. Never carries the encryption key."""

    requestId: str
    tag: str
    dataset: str
    datasetConfig: dict[str, Any]
    requestedBy: str
    requestedChannel: str
    status: Status
    statusMessage: str | None = None
    attempts: int
    lastUpdated: int
    jobStats: JobStats
    downloadUrls: list[str] = Field(default_factory=list)
    expiresAt: int | None = None
    progress: Progress
    files: list[FileLink] = Field(default_factory=list)
    # When the answer links fewer files than the request has (list and search: the first; read: one page), how many
    # there are in all.
    filesTotal: int | None = None
    manifestUrl: str | None = Field(
        default=None, description="Download link of manifest.json, which lists every file of the request"
    )
    filesNextCursor: str | None = Field(
        default=None, description="read: pass it as `cursor` to get the next page of file links"
    )
    dataAvailableUntil: str | None = Field(
        default=None,
        description="ISO 8601 UTC instant up to which the lake data the request was built from is complete",
        examples=["2026-12-01T00:00:00Z"],
    )
    dataComplete: bool | None = Field(
        default=None, description="False when the request's scope reaches past dataAvailableUntil (built and marked)"
    )
    audit: list[AuditEvent] | None = Field(
        default=None,
        description="read, for the organisation's admins (ORG_ADMIN): who submitted it, was given its download "
        "links, cancelled or deleted it, and when",
    )


class JobList(BaseModel):
    """A page of list or search."""

    count: int = Field(description="Jobs in this answer (list) or all matches (search; see countIsLowerBound)")
    jobs: list[JobStatusResponse]
    nextCursor: str | None = Field(
        default=None, description="The next page: pass as ?cursor= (list) or request.cursor (search)"
    )
    countIsLowerBound: bool | None = Field(
        default=None, description="search: true when there are more matches than it counts (count is at least)"
    )
