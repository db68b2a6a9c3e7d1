"""The ports: what the domain services need from the outside world, as Protocols (docs/architecture.md).

A service is typed on these, never on a boto3 adapter; the adapters (exhaust.requests.store and .adapters,
exhaust.datasets.registry, exhaust.pipeline.notify, exhaust.pipeline.executions) satisfy them structurally, and so do
the tests' fakes (mypy checks both). A port lists only what its services call: a fake implements no more than that.

The exceptions a port's callers catch are part of its contract, so they are defined here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from exhaust.datasets.registry import Dataset
    from exhaust.requests.models import ExhaustRequest, OutputFile, Status


class ConcurrentUpdate(Exception):
    """A conditional write lost: someone else changed the request first."""


class LimitReached(Exception):
    """The channel already has as many open requests as allowed: nothing was written."""


class NotOwned(Exception):
    """The request is no longer PROCESSING under the execution that tried to write: nothing was written."""


class RequestRecords(Protocol):
    """One request at a time: read it, write its next state if nobody changed it (what the steps need)."""

    def get(self, request_id: str) -> ExhaustRequest | None: ...

    def replace(self, request: ExhaustRequest, expected_version: int) -> ExhaustRequest:
        """The stored new state (version + 1); ConcurrentUpdate when `expected_version` is no longer current."""
        ...


class RequestCounts(RequestRecords, Protocol):
    """The records and how many requests are in a status (the dispatcher's throttles)."""

    def count_in_status(self, status: Status, channel: str | None = None) -> int: ...


class RequestStore(RequestCounts, Protocol):
    """The requests table: every query the request operations, the steps and the sweeper make."""

    def create(self, request: ExhaustRequest, open_limit: int | None = None) -> bool:
        """Store a new request; False when one with its requestId exists; LimitReached at the channel's limit."""
        ...

    def replace(
        self, request: ExhaustRequest, expected_version: int, open_limit: int | None = None
    ) -> ExhaustRequest: ...

    def batch_output(self, request: ExhaustRequest, batch_id: str) -> OutputFile | None:
        """The file a builder recorded for this batch of this submission, if any."""
        ...

    def record_batch(self, request: ExhaustRequest, execution_arn: str, output: OutputFile, now_ms: int) -> bool:
        """Record a built batch and count it on the request, both or neither; False when it was recorded already;
        NotOwned when the execution no longer owns the request."""
        ...

    def list_by_tag(
        self, channel: str, tag: str, limit: int, cursor: str | None = None
    ) -> tuple[list[ExhaustRequest], str | None]: ...

    def open_of(self, channel: str, dataset: str) -> list[ExhaustRequest]: ...

    def in_status(self, status: Status, updated_before: int | None = None) -> list[ExhaustRequest]: ...

    def with_pending_notices(self, status: Status, submitted_after: int) -> list[ExhaustRequest]: ...

    def search(
        self, filters: dict[str, str], day_range: tuple[int, int] | None, limit: int, cursor: str | None = None
    ) -> tuple[list[ExhaustRequest], str | None]: ...

    def count_matches(self, filters: dict[str, str], day_range: tuple[int, int] | None) -> tuple[int, bool]: ...


class RequestQueue(Protocol):
    """The requests queue the dispatcher reads."""

    def send(self, request_id: str, attempt: int = 0, delay_seconds: int = 0) -> None: ...


class KeyVault(Protocol):
    """Encrypts partners' encryption keys, bound to their request."""

    def encrypt(self, secret: str, request_id: str) -> str: ...

    def decrypt(self, ciphertext: str, request_id: str) -> str: ...


class IdempotencyRecords(Protocol):
    """Idempotency-Key claims of submits."""

    def claim(self, key: str, body_hash: str, request_id: str) -> dict[str, Any] | None:
        """None when this body now holds `key`, else the live record that holds it."""
        ...

    def release(self, key: str, body_hash: str) -> None: ...


class LinkSigner(Protocol):
    """Time-limited download links to the service's files."""

    def sign(self, key: str, filename: str | None = None) -> str: ...

    def expires_at_ms(self, now_ms: int) -> int: ...


class DatasetRegistry(Protocol):
    """The datasets a request may name."""

    def get(self, dataset_id: str) -> Dataset | None: ...

    def ids(self, dataset_type: str | None = None) -> list[str]: ...


class Notifier(Protocol):
    """Delivers an ended request's pending notices (event, callback)."""

    def deliver(self, request: ExhaustRequest, notices: list[str], now_ms: int) -> set[str]:
        """The notices settled (delivered, refused or given up); the others stay in the outbox."""
        ...


class ExecutionAlreadyExists(Exception):
    """An execution of this name was already started: this attempt is under way or done."""


class Workflow(Protocol):
    """Executions of the exhaust workflow (Step Functions, or local mode's runner)."""

    def execution_arn(self, name: str) -> str: ...

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start the execution `name`; ExecutionAlreadyExists when that name was used."""
        ...

    def describe(self, execution_arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; None when no such execution exists."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...
