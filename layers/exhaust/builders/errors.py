"""Permanent build failures with the messages users see in statusMessage (reference-system.md).

These never import pyarrow, so the pipeline's other steps can catch them cheaply. A permanent error is not
retried: the same lake gives the same answer.
"""

from __future__ import annotations

from exhaust.errors import ServiceError

NO_DATA_FOUND = "No data found"
RETIRED_COLLECTION = "The request is made for retired collection"
BATCH_EXPIRED = "Requested batch not found/Batch has expired"  # seed 002's list sample
CONSENT_NOT_REQUESTED = (
    "Invalid request. User info exhaust is not applicable for collections which don't request for user "
    "consent to share data"
)


class BuildError(ServiceError):
    """A batch that cannot be built, whatever the number of attempts."""

    status = 400
    response_code = "CLIENT_ERROR"
    code = "BUILD_FAILED"
    permanent = True


class NoDataFound(BuildError):
    code = "NO_DATA_FOUND"

    def __init__(self, message: str = NO_DATA_FOUND):
        super().__init__(message)


class RetiredCollection(BuildError):
    code = "RETIRED_COLLECTION"

    def __init__(self, message: str = RETIRED_COLLECTION):
        super().__init__(message)


class ConsentNotRequested(BuildError):
    code = "CONSENT_NOT_REQUESTED"

    def __init__(self, message: str = CONSENT_NOT_REQUESTED):
        super().__init__(message)


class UnknownDataset(BuildError):
    code = "UNKNOWN_DATASET"
