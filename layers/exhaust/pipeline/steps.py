"""The workflow's steps as plain functions on the request store, the lake and the builders.

Every step first checks that its execution still owns the request (status PROCESSING and the request's
executionArn is this execution's): a stale execution, e.g. one the sweeper gave up on, changes nothing. Every
write is a conditional write, re-read and re-applied when another step (a parallel batch) wrote first.

How an attempt ends (end_attempt), by the kind of its error:
    permanent        FAILED with the error's message (attempts + 1)
    infrastructure   deferred: SUBMITTED again after TRANSIENT_RETRY_DELAY_SECONDS, attempts unchanged, as long as
                     such failures have not lasted TRANSIENT_OUTAGE_LIMIT_SECONDS; then FAILED with OUTAGE_MESSAGE
    anything else    attempts + 1: SUBMITTED again with backoff while attempts remain, else FAILED
A request that ends carries its completion notices in its outbox, written with the final state and removed once
delivered; the sweeper delivers what is left (at least once; receivers deduplicate on the detail's eventId).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from exhaust import aws, observability, ports
from exhaust import readiness as lake_readiness
from exhaust.builders import BatchBuild
from exhaust.builders.errors import BATCH_EXPIRED, CONSENT_NOT_REQUESTED, NO_DATA_FOUND, RETIRED_COLLECTION
from exhaust.datasets.ids import DEFAULT_MAX_BATCHES_PER_REQUEST, ORG_SCOPED_DATASETS
from exhaust.observability import logger
from exhaust.pipeline.definition import (
    FUNCTION_LIMIT_ERROR,
    PERMANENT_ERROR,
    PLANS_PREFIX,
    THROTTLING_ERRORS,
    TRANSIENT_ERRORS,
)
from exhaust.pipeline.errors import EXECUTION_LOST, PermanentFailure, StaleExecution, TransientFailure
from exhaust.pipeline.notify import Notifier, notices_for
from exhaust.ports import ConcurrentUpdate, NotOwned
from exhaust.requests import wiring
from exhaust.requests.models import MAX_ATTEMPTS, ExhaustRequest, OutputFile, Status
from exhaust.requests.outputs import Manifests, key_prefix, listed_on_item
from exhaust.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    from exhaust.lake.catalog import BatchInfo
    from exhaust.packaging import BuiltFile

MISSING_INPUT = "Request should have either of batchId, batchFilter, searchFilter or encryption key"
USERINFO_DATASET = "userinfo-exhaust"
UPDATE_ATTEMPTS = 25
RETRY_BASE_DELAY_SECONDS = 60
SQS_MAX_DELAY_SECONDS = 900
# A request interrupted by an infrastructure failure is looked at again this soon (so it resumes within a minute of
# the failure ending), for as long as such failures have lasted less than the outage limit.
TRANSIENT_RETRY_DELAY_SECONDS = 30
TRANSIENT_OUTAGE_LIMIT_SECONDS = 3600
# Errors of the infrastructure, not of the request: they never use up one of its attempts.
INFRASTRUCTURE_ERRORS = frozenset({*THROTTLING_ERRORS, *TRANSIENT_ERRORS, EXECUTION_LOST})
MAP_ITEM_FAILED = "States.ExceedToleratedFailureThreshold"
DEFERRED_MESSAGE = "interrupted by a temporary AWS failure ({message}); it resumes automatically"
OUTAGE_MESSAGE = (
    "The export could not run: the AWS services it depends on kept failing for more than {minutes} minutes "
    "(last error: {message}). Nothing is wrong with the request: submit it again."
)
BUILDER_LIMIT_MESSAGE = (
    "building batch {batch_id} ran out of the builder's time ({timeout_seconds} s) or memory ({memory_mb} MB)"
)
RETRYING_MESSAGE = "{message}; it is tried again (attempt {attempt} of {max_attempts})"
RETRIES_EXHAUSTED_MESSAGE = (
    "Internal Server Error: the export failed {attempts} times (last error: {message}). Submit it again; if it "
    "fails again, contact support with the requestId."
)
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


def plan_key(request_id: str, execution_arn: str) -> str:
    """Where Plan writes an execution's batch ids for the map's ItemReader (one file per execution)."""
    return f"{PLANS_PREFIX}{request_id}/{execution_arn.rpartition(':')[2]}.json"


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


def retry_delay_seconds(attempts: int, base: int = RETRY_BASE_DELAY_SECONDS) -> int:
    """Backoff before attempt number `attempts + 1` of a request: base, 2 x base, ... (SQS allows 15 minutes)."""
    return int(min(SQS_MAX_DELAY_SECONDS, base * 2 ** max(attempts - 1, 0)))


def _elapsed_ms(started_at: str | None, moment: int) -> int | None:
    if not started_at:
        return None
    try:
        started = dt.datetime.fromisoformat(started_at)
    except ValueError:
        return None
    return max(0, moment - int(started.timestamp() * 1000))


class BatchFileBuilder(Protocol):
    """Builds one batch's zip into `{key_prefix}...` of `bucket` (exhaust.builders.build_batch_file)."""

    def __call__(self, build: BatchBuild, bucket: str, key_prefix: str, *, compresslevel: int) -> BuiltFile: ...


def _default_build_file(build: BatchBuild, bucket: str, key_prefix: str, *, compresslevel: int) -> BuiltFile:
    from exhaust.builders import build_batch_file  # pyarrow: only the builder image and local mode

    return build_batch_file(build, bucket, key_prefix, compresslevel=compresslevel)


def default_batch_limit() -> int:
    return DEFAULT_MAX_BATCHES_PER_REQUEST


@dataclass
class Pipeline:
    """The steps with their adapters; tests pass fakes or moto-backed adapters, and a directory lake."""

    store: ports.RequestStore = field(default_factory=wiring.request_store)
    queue: ports.RequestQueue = field(default_factory=wiring.request_queue)
    vault: ports.KeyVault = field(default_factory=wiring.key_vault)
    # The registry's module is imported on first use (exhaust.requests.wiring): its models cost the dispatcher's
    # cold start, and only Plan reads the registry.
    registry: ports.DatasetRegistry = field(default_factory=wiring.dataset_registry)
    notifier: ports.Notifier = field(default_factory=Notifier)
    settings: RuntimeSettings = field(default_factory=get_settings)
    lake_uri: str = ""
    build_file: BatchFileBuilder = _default_build_file
    clock: Callable[[], int] = now_ms
    retry_base_delay_seconds: int = RETRY_BASE_DELAY_SECONDS
    transient_retry_delay_seconds: int = TRANSIENT_RETRY_DELAY_SECONDS
    transient_outage_limit_seconds: int = TRANSIENT_OUTAGE_LIMIT_SECONDS

    @property
    def lake(self) -> str:
        return self.lake_uri or self.settings.lake_uri

    # -- ownership and writes ---------------------------------------------------------------------------------
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

    # -- Plan -----------------------------------------------------------------------------------------------
    def plan(self, request_id: str, execution_arn: str) -> dict[str, Any]:
        """Resolve the batches, enforce the dataset's limits, record batchesTotal; write the batches to build."""
        request = self.owned(request_id, execution_arn)
        if not request.encryptedKey:
            raise PermanentFailure(MISSING_INPUT)
        if request.dataset in ORG_SCOPED_DATASETS:
            # The organisation is the scope: one unit of work, named by the channel (exhaust.builders).
            return self.record_plan(request_id, execution_arn, [request.channel], self.readiness(request, None))
        batches = self.unexpired(self.own_batches(request))
        live = self.within_limits(request, batches)
        ready = self.readiness(request, [batch.end_date for batch in live])
        return self.record_plan(request_id, execution_arn, [batch.batch_id for batch in live], ready)

    def own_batches(self, request: ExhaustRequest) -> list[BatchInfo]:
        """The batches the request's config names (batchId, batchFilter or searchFilter), of its own channel only:
        another channel's batch answers as if it did not exist."""
        from exhaust.lake.catalog import Catalog
        from exhaust.lake.store import Lake

        config = request.datasetConfig
        if not any(config.get(name) for name in ("batchId", "batchFilter", "searchFilter")):
            raise PermanentFailure(MISSING_INPUT)
        try:
            catalog = Catalog(Lake.open(self.lake))
            if config.get("batchId"):
                batch_ids = catalog.resolve_batch_filter([str(config["batchId"])])
            elif config.get("batchFilter"):
                batch_ids = catalog.resolve_batch_filter(str(value) for value in config["batchFilter"])
            else:
                batch_ids = catalog.resolve_search_filter(config["searchFilter"])
        except Exception as error:
            raise classify(error) from error
        found = [catalog.batch(batch_id) for batch_id in batch_ids]
        batches = [info for info in found if info is not None and info.channel == request.channel]
        if not batches:
            raise PermanentFailure(NO_DATA_FOUND)
        return batches

    def within_limits(self, request: ExhaustRequest, batches: list[BatchInfo]) -> list[BatchInfo]:
        """The live (not retired) batches, within the dataset's maxBatchesPerRequest and consent rule."""
        live = [batch for batch in batches if not batch.retired]
        if not live:
            raise PermanentFailure(RETIRED_COLLECTION)
        dataset = self.registry.get(request.dataset)
        limit = dataset.limits.maxBatchesPerRequest if dataset else default_batch_limit()
        if len(live) > limit:
            raise PermanentFailure(f"Number of batches in request exceeded. It should be within {limit}")
        if request.dataset == USERINFO_DATASET and any(not batch.requires_consent for batch in live):
            raise PermanentFailure(CONSENT_NOT_REQUESTED)
        return live

    def readiness(self, request: ExhaustRequest, batch_end_dates: list[str | None] | None) -> dict[str, Any]:
        """dataAvailableUntil and dataComplete to record: the request is built either way, and marked."""
        try:
            return lake_readiness.readiness(self.lake, request.submittedAt, batch_end_dates)
        except Exception as error:
            raise classify(error) from error

    def record_plan(
        self, request_id: str, execution_arn: str, wanted: list[str], ready: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record batchesTotal and readiness; write every batch id to S3 for the map's ItemReader.

        All of them, also those an earlier attempt built: their BuildBatch answers the recorded file without
        building it again, so the map's results list every file of the request for Finalize.
        """

        def record(current: ExhaustRequest) -> ExhaustRequest:
            progress = current.progress.model_copy(update={"batchesTotal": len(wanted)})
            return current.model_copy(update={"progress": progress, **(ready or {})})

        planned = self.update(request_id, execution_arn, record)
        key = plan_key(request_id, execution_arn)
        aws.client("s3").put_object(
            Bucket=self.settings.exhaust_bucket,
            Key=key,
            Body=json.dumps(wanted).encode("utf-8"),
            ContentType="application/json",
        )
        logger.info(
            "request planned",
            extra={"request_id": request_id, "batches": len(wanted), "built": planned.progress.batchesDone},
        )
        return {"key": key, "batches": len(wanted)}

    def unexpired(self, batches: list[BatchInfo]) -> list[BatchInfo]:
        """The batches not expired (exhaust.lake.catalog.BatchInfo.expired); none left: the seed's message."""
        today = dt.datetime.fromtimestamp(self.clock() / 1000, dt.UTC).date()
        current = [batch for batch in batches if not batch.expired(today, self.settings.batch_expiry_days)]
        if not current:
            raise PermanentFailure(BATCH_EXPIRED)
        return current

    # -- BuildBatch -----------------------------------------------------------------------------------------
    def build_batch(self, request_id: str, execution_arn: str, batch_id: str) -> dict[str, Any]:
        """Build one batch's encrypted zip and record it; a batch recorded by an earlier attempt is not rebuilt."""
        request = self.owned(request_id, execution_arn)
        existing = self.store.batch_output(request, batch_id)
        if existing is not None:
            return {"batchId": batch_id, "file": existing.model_dump()}
        if not request.encryptedKey:
            raise PermanentFailure(MISSING_INPUT)
        started = time.monotonic()
        try:
            password = self.vault.decrypt(request.encryptedKey, request.requestId)
            build = BatchBuild(
                request.dataset, batch_id, request.channel, password, self.lake, dt.datetime.now(dt.UTC).date()
            )
            built = self.build_file(
                build,
                self.settings.exhaust_bucket,
                key_prefix(request),
                compresslevel=self.settings.zip_compression_level,
            )
        except Exception as error:
            raise classify(error) from error
        output = OutputFile(
            name=built.name, key=built.key, rows=built.rows, bytes=built.bytes, sha256=built.sha256, batchId=batch_id
        )
        try:
            counted = self.store.record_batch(request, execution_arn, output, self.clock())
        except NotOwned:
            self.discard_if_cancelled(request_id, output.key)
            raise StaleExecution(f"{execution_arn} no longer owns request {request_id}") from None
        if counted:
            observability.record_build(request.dataset, output.rows, output.bytes, time.monotonic() - started)
        logger.info(
            "batch built",
            extra={
                "request_id": request_id,
                "batch_id": batch_id,
                "rows": output.rows,
                "rows_from": built.rows_from,
                "counted": counted,
            },
        )
        return {"batchId": batch_id, "file": output.model_dump()}

    # -- Finalize -------------------------------------------------------------------------------------------
    def finalize(
        self, request_id: str, execution_arn: str, results: list[dict[str, Any]], started_at: str | None = None
    ) -> ExhaustRequest:
        """SUCCESS with the manifest; or the attempt ends with the batches' failures (permanent ones first); notify.

        `results` are the map's per-batch results (map_results reads them from the ResultWriter's files):
        `{"batchId", "file"}` for a built batch, `{"batchId", "error", "failure"}` for a failed one.
        """
        failures = [result for result in results if result.get("failure")]
        if failures:
            request = self.owned(request_id, execution_arn)
            # BatchFailed records the error's name; a result without one is a permanent failure.
            permanent = [f for f in failures if f.get("error", PERMANENT_ERROR) == PERMANENT_ERROR]
            first = (permanent or failures)[0]
            name = PERMANENT_ERROR if permanent else str(first["error"])
            message = failure_message(first["failure"])
            if name == FUNCTION_LIMIT_ERROR:
                # Lambda reports no reason for a timeout or an out-of-memory end: the limits say where to look.
                message = BUILDER_LIMIT_MESSAGE.format(
                    batch_id=first.get("batchId"),
                    timeout_seconds=self.settings.builder_timeout_seconds,
                    memory_mb=self.settings.builder_memory_mb,
                )
            return self.end_attempt(request, name, message, started_at)
        request = self.owned(request_id, execution_arn)
        files = sorted((OutputFile.model_validate(result["file"]) for result in results), key=lambda f: f.name)
        written = Manifests(self.settings.exhaust_bucket).write(request, files)
        moment = self.clock()

        def succeed(current: ExhaustRequest) -> ExhaustRequest:
            return current.model_copy(
                update={
                    "status": Status.SUCCESS,
                    "statusMessage": None,
                    "files": listed_on_item(files),
                    "filesTotal": len(files),
                    "completedAt": moment,
                    "executionTimeMs": _elapsed_ms(started_at, moment),
                    "encryptedKey": None,
                    "transientSince": None,
                    "outbox": notices_for(current),
                }
            )

        try:
            done = self.update(request_id, execution_arn, succeed)
        except StaleExecution:
            for key in written:
                self.discard_if_cancelled(request_id, key)
            raise
        observability.count(observability.REQUESTS_SUCCEEDED, done.dataset)
        logger.info("request succeeded", extra={"request_id": request_id, "files": len(files)})
        return self.announce(done)

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

    # -- MarkFailed and the sweeper -------------------------------------------------------------------------
    def mark_failed(
        self, request_id: str, execution_arn: str, error: dict[str, Any], started_at: str | None = None
    ) -> ExhaustRequest | None:
        """What the Catch clauses reach: end the attempt (FAILED, or SUBMITTED again while attempts remain)."""
        name = str(error.get("Error") or "States.Runtime")
        try:
            request = self.owned(request_id, execution_arn)
            return self.end_attempt(request, name, failure_message(error.get("Cause")), started_at)
        except StaleExecution:
            logger.info("stale execution failed; request left as it is", extra={"request_id": request_id})
            return None

    def end_attempt(
        self, request: ExhaustRequest, error_name: str, message: str, started_at: str | None = None
    ) -> ExhaustRequest:
        """Count the attempt: FAILED (permanent error, or the last attempt) or back to SUBMITTED and re-queued.

        A racing write (a batch still recording its file) is re-read and the attempt ended on the fresh copy, as
        long as the request is still in the same status under the same execution.
        """
        for _ in range(UPDATE_ATTEMPTS):
            try:
                return self._end_attempt(request, error_name, message, started_at)
            except ConcurrentUpdate:
                fresh = self.store.get(request.requestId)
                if fresh is None or fresh.status != request.status or fresh.executionArn != request.executionArn:
                    raise StaleExecution(f"request {request.requestId} moved on while ending its attempt") from None
                request = fresh
        raise TransientFailure(f"request {request.requestId} kept changing while ending its attempt")

    def _end_attempt(
        self, request: ExhaustRequest, error_name: str, message: str, started_at: str | None
    ) -> ExhaustRequest:
        moment = self.clock()
        if error_name == PERMANENT_ERROR:
            return self._fail(request, request.attempts + 1, message, error_name, started_at)
        if error_name in INFRASTRUCTURE_ERRORS:
            since = request.transientSince or moment
            if moment - since < self.transient_outage_limit_seconds * 1000:
                return self._requeue(
                    request,
                    {
                        "deferrals": request.deferrals + 1,
                        "transientSince": since,
                        "statusMessage": DEFERRED_MESSAGE.format(message=message),
                    },
                    self.transient_retry_delay_seconds,
                    error_name,
                )
            minutes = self.transient_outage_limit_seconds // 60
            return self._fail(
                request,
                request.attempts,
                OUTAGE_MESSAGE.format(minutes=minutes, message=message),
                error_name,
                started_at,
            )
        attempts = request.attempts + 1
        if error_name == MAP_ITEM_FAILED:
            message = "building one of the batches failed unexpectedly"
        if attempts >= MAX_ATTEMPTS:
            shown = RETRIES_EXHAUSTED_MESSAGE.format(attempts=attempts, message=message)
            return self._fail(request, attempts, shown, error_name, started_at)
        delay = retry_delay_seconds(attempts, self.retry_base_delay_seconds)
        # A batch that outgrew the builder is worth telling while it is tried again: it may well outgrow it again.
        shown = None
        if error_name == FUNCTION_LIMIT_ERROR:
            shown = RETRYING_MESSAGE.format(message=message, attempt=attempts + 1, max_attempts=MAX_ATTEMPTS)
        return self._requeue(request, {"attempts": attempts, "statusMessage": shown}, delay, error_name)

    def _fail(
        self, request: ExhaustRequest, attempts: int, message: str, error_name: str, started_at: str | None
    ) -> ExhaustRequest:
        moment = self.clock()
        ended = request.model_copy(
            update={
                "status": Status.FAILED,
                "statusMessage": message,
                "attempts": attempts,
                "completedAt": moment,
                "executionTimeMs": _elapsed_ms(started_at, moment),
                "encryptedKey": None,
                "transientSince": None,
                "updatedAt": moment,
            }
        )
        ended = ended.model_copy(update={"outbox": notices_for(ended)})
        stored = self.store.replace(ended, request.version)
        observability.count(observability.REQUESTS_FAILED, request.dataset)
        logger.info(
            "request failed", extra={"request_id": request.requestId, "attempts": attempts, "error": error_name}
        )
        return self.announce(stored)

    def _requeue(self, request: ExhaustRequest, changes: dict[str, Any], delay: int, error_name: str) -> ExhaustRequest:
        """SUBMITTED again, queued with `delay`. The message goes first: if sending fails nothing is written and
        the step fails as a transient error, so Step Functions retries it (a message sent for a write that then
        lost its race is harmless: the dispatcher starts one execution per attempt)."""
        try:
            self.queue.send(request.requestId, changes.get("attempts", request.attempts), delay_seconds=delay)
        except Exception as error:
            raise TransientFailure(f"could not queue request {request.requestId} again: {error}") from error
        again = request.model_copy(
            update={"status": Status.SUBMITTED, "executionArn": None, "updatedAt": self.clock(), **changes}
        )
        stored = self.store.replace(again, request.version)
        logger.info(
            "attempt ended; request queued again",
            extra={
                "request_id": request.requestId,
                "attempts": stored.attempts,
                "deferrals": stored.deferrals,
                "error": error_name,
                "delay": delay,
            },
        )
        return stored


def run_step(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The builder image's entry: `{"step": "plan" | "build", ...}` as the workflow's Payload sends it."""
    step = event.get("step")
    with infrastructure_errors_are_transient():
        if step == "plan":
            return pipeline.plan(event["requestId"], event["executionArn"])
        if step == "build":
            return pipeline.build_batch(event["requestId"], event["executionArn"], event["batchId"])
    raise ValueError(f"unknown step {step!r}")


def map_results(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The map's per-batch results from its ResultWriter's files: the manifest (`ResultWriterDetails` names it)
    lists the SUCCEEDED and FAILED files, JSON arrays of child executions; a failed child is a failed batch."""
    s3 = aws.client("s3")

    def read(bucket: str, key: str) -> Any:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    manifest = read(details["Bucket"], details["Key"])
    bucket = manifest.get("DestinationBucket") or details["Bucket"]
    results: list[dict[str, Any]] = []
    for status in ("SUCCEEDED", "FAILED"):
        for listed in manifest.get("ResultFiles", {}).get(status, []):
            for child in read(bucket, listed["Key"]):
                if child.get("Status") == "SUCCEEDED":
                    results.append(json.loads(child["Output"]))
                else:
                    batch_id = json.loads(child.get("Input") or "{}").get("batchId")
                    failure = child.get("Cause") or child.get("Error") or "the batch's execution failed"
                    results.append({"batchId": batch_id, "error": child.get("Error"), "failure": failure})
    return results


def finalize_step(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The finalize function's entry (the workflow's Finalize Payload)."""
    with infrastructure_errors_are_transient():
        results = map_results(event["mapResults"])
        request = pipeline.finalize(event["requestId"], event["executionArn"], results, event.get("startedAt"))
    return {"requestId": request.requestId, "status": request.status.value}


def mark_failed_step(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, Any]:
    """The mark_failed function's entry (the workflow's MarkFailed Payload)."""
    with infrastructure_errors_are_transient():
        request = pipeline.mark_failed(
            event["requestId"], event["executionArn"], dict(event.get("error") or {}), event.get("startedAt")
        )
    return {"requestId": event["requestId"], "status": request.status.value if request else None}
