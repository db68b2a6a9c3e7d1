"""The request record as stored, and the JobStatusResponse answered to partners (seeds 001/002)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Status(StrEnum):
    SUBMITTED = "SUBMITTED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


OPEN_STATUSES = (Status.SUBMITTED, Status.PROCESSING)
MAX_ATTEMPTS = 3


class OutputFile(BaseModel):
    name: str
    key: str
    rows: int
    bytes: int
    sha256: str
    batchId: str = ""


class Progress(BaseModel):
    batchesTotal: int = 0
    batchesDone: int = 0
    rowsWritten: int = 0


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
    files: list[OutputFile] = Field(default_factory=list)
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
    # List and search link only the first files; then this is how many there are (read lists them all).
    filesTotal: int | None = None
