"""What every step shares: its adapters (Pipeline), ownership of the request, conditional writes, error kinds.

Every step first checks that its execution still owns the request (status PROCESSING and the request's
executionArn is this execution's): a stale execution, e.g. one the sweeper gave up on, changes nothing. Every
write is a conditional write, re-read and re-applied when another step (a parallel batch) wrote first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from exhaust import aws, ports
from exhaust.builders import BatchBuild, build_batch_file
from exhaust.observability import logger
from exhaust.pipeline.errors import PermanentFailure, StaleExecution, TransientFailure
from exhaust.pipeline.notify import Notifier
from exhaust.ports import ConcurrentUpdate
from exhaust.requests import wiring
from exhaust.requests.models import ExhaustRequest, Status
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.aes_zip import BuiltFile
    from exhaust.lake.catalog import BatchInfo

MISSING_INPUT = "Request should have either of batchId, batchFilter, searchFilter or encryption key"
UPDATE_ATTEMPTS = 25
RETRY_BASE_DELAY_SECONDS = 60
# A request interrupted by an infrastructure failure is looked at again this soon (so it resumes within a minute of
# the failure ending), for as long as such failures have lasted less than the outage limit.
TRANSIENT_RETRY_DELAY_SECONDS = 30
TRANSIENT_OUTAGE_LIMIT_SECONDS = 3600
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "KMSInternalException",
        # A write that met a transaction on the same item (a builder recording its batch): nothing was written.
        "TransactionConflictException",
        "TransactionCanceledException",
    }
)


def now_ms() -> int:
    return int(time.time() * 1000)


def failure_message(cause: str | None) -> str:
    """The readable message of a Step Functions error Cause (a Lambda error's JSON, or plain text)."""
    if not cause:
        return "unknown error"
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return cause


def _is_transient(error: BaseException) -> bool:
    if getattr(error, "transient", False):  # e.g. the lake's derived tables being re-indexed (LakeNotIndexed)
        return True
    client_error, botocore_error = aws.transport_errors()
    if isinstance(error, client_error):
        return error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    # pyarrow reports S3 throttling and dropped connections as OSError; a missing or forbidden path is no blip.
    return isinstance(error, botocore_error | TimeoutError | ConnectionError) or type(error) is OSError


def classify(error: Exception) -> Exception:
    """The workflow error for what a step raised: permanent, transient, or the error itself (request retry).

    The chain of causes counts: boto3's upload_file turns S3's SlowDown into an S3UploadFailedError raised while
    handling the ClientError.
    """
    if isinstance(error, PermanentFailure | TransientFailure | StaleExecution):
        return error
    if getattr(error, "permanent", False):
        return PermanentFailure(getattr(error, "message", str(error)))
    cause: BaseException | None = error
    seen: set[int] = set()  # `raise error from error` makes a chain a loop
    while cause is not None and id(cause) not in seen:
        if _is_transient(cause):
            return TransientFailure(str(error))
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return error


@contextmanager
def infrastructure_errors_are_transient() -> Iterator[None]:
    """Around a whole step: a throttled or failing AWS call anywhere (e.g. the write after an upload) is retried."""
    try:
        yield
    except Exception as error:
        classified = classify(error)
        if classified is error:
            raise
        raise classified from error


class BatchFileBuilder(Protocol):
    """Builds one batch's zip into `{key_prefix}...` of `bucket` (exhaust.builders.build_batch_file)."""

    def __call__(self, build: BatchBuild, bucket: str, key_prefix: str, *, compresslevel: int) -> BuiltFile: ...


class BatchFinder(Protocol):
    """The batches a request's config names (batchId, batchFilter or searchFilter) in the lake, of any channel."""

    def __call__(self, lake: str, request: ExhaustRequest) -> list[BatchInfo]: ...


def lake_batches(lake: str, request: ExhaustRequest) -> list[BatchInfo]:
    """The BatchFinder on the lake's catalog (exhaust.lake.catalog)."""
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.store import Lake

    config = request.datasetConfig
    catalog = Catalog(Lake.open(lake))
    if config.get("batchId"):
        batch_ids = catalog.resolve_batch_filter([str(config["batchId"])])
    elif config.get("batchFilter"):
        batch_ids = catalog.resolve_batch_filter(str(value) for value in config["batchFilter"])
    else:
        batch_ids = catalog.resolve_search_filter(config["searchFilter"])
    return [info for info in (catalog.batch(batch_id) for batch_id in batch_ids) if info is not None]


@dataclass
class Pipeline:
    """The steps' adapters; tests pass fakes or moto-backed adapters, and a directory lake."""

    store: ports.RequestStore = field(default_factory=wiring.request_store)
    queue: ports.RequestQueue = field(default_factory=wiring.request_queue)
    vault: ports.KeyVault = field(default_factory=wiring.key_vault)
    # The registry's module is imported on first use (exhaust.requests.wiring): its models cost the dispatcher's
    # cold start, and only Plan reads the registry.
    registry: ports.DatasetRegistry = field(default_factory=wiring.dataset_registry)
    notifier: ports.Notifier = field(default_factory=Notifier)
    settings: RuntimeSettings = field(default_factory=get_settings)
    lake_uri: str = ""
    find_batches: BatchFinder = lake_batches
    build_file: BatchFileBuilder = build_batch_file
    clock: Callable[[], int] = now_ms
    retry_base_delay_seconds: int = RETRY_BASE_DELAY_SECONDS
    transient_retry_delay_seconds: int = TRANSIENT_RETRY_DELAY_SECONDS
    transient_outage_limit_seconds: int = TRANSIENT_OUTAGE_LIMIT_SECONDS

    @property
    def lake(self) -> str:
        return self.lake_uri or self.settings.lake_uri

    def owned(self, request_id: str, execution_arn: str) -> ExhaustRequest:
        request = self.store.get(request_id)
        if request is None or request.status != Status.PROCESSING or request.executionArn != execution_arn:
            raise StaleExecution(f"{execution_arn} no longer owns request {request_id}")
        return request

    def update(
        self, request_id: str, execution_arn: str, change: Callable[[ExhaustRequest], ExhaustRequest]
    ) -> ExhaustRequest:
        """Apply `change` to the owned request with a conditional write, again on a fresh copy if one races."""
        for _ in range(UPDATE_ATTEMPTS):
            request = self.owned(request_id, execution_arn)
            changed = change(request)
            if changed is request:
                return request
            try:
                return self.store.replace(changed.model_copy(update={"updatedAt": self.clock()}), request.version)
            except ConcurrentUpdate:
                continue
        raise TransientFailure(f"request {request_id} kept changing under the update")

    def announce(self, ended: ExhaustRequest) -> ExhaustRequest:
        """Deliver the ended request's pending notices; remove the settled ones from its outbox (else the sweeper
        tries again). Never raises: the request's state is written, a notice must not turn it into a failure."""
        if not ended.outbox:
            return ended
        settled = self.notifier.deliver(ended, ended.outbox, self.clock())
        if not settled:
            return ended
        current: ExhaustRequest | None = ended
        try:
            for _ in range(UPDATE_ATTEMPTS):
                if current is None or (current.status, current.submittedAt) != (ended.status, ended.submittedAt):
                    return ended  # re-submitted meanwhile: its new run has notices of its own
                remaining = [kind for kind in current.outbox if kind not in settled]
                try:
                    return self.store.replace(current.model_copy(update={"outbox": remaining}), current.version)
                except ConcurrentUpdate:
                    current = self.store.get(ended.requestId)
        except Exception:
            logger.exception(
                "delivered notices not recorded; the sweeper sends them again", extra={"request_id": ended.requestId}
            )
        return ended

    def discard_if_cancelled(self, request_id: str, key: str) -> None:
        """A file this step wrote after the partner cancelled (and the cancel removed the others) goes too."""
        current = self.store.get(request_id)
        if current is not None and current.status == Status.CANCELLED:
            aws.client("s3").delete_object(Bucket=self.settings.exhaust_bucket, Key=key)
            logger.info("file of a cancelled request removed", extra={"request_id": request_id, "key": key})


StepInput = TypeVar("StepInput", bound=BaseModel)


def run_step(
    pipeline: Pipeline,
    event: dict[str, Any],
    input_model: type[StepInput],
    step: Callable[[Pipeline, StepInput], BaseModel],
) -> dict[str, Any]:
    """A step's function entry: the Task's Payload read as the step's input model, the output model as JSON."""
    with infrastructure_errors_are_transient():
        return step(pipeline, input_model.model_validate(event)).model_dump(mode="json")
