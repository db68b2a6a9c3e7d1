"""The default adapters of the request ports: what a service uses unless its caller (a test) passes its own.

The services (exhaust.requests.service, exhaust.pipeline.*, exhaust.legacy.service) are typed on exhaust.ports and
never import the boto3 adapters' modules (`make lint` checks it); this module is the one place that names them.
Each adapter's module is imported on first use, so importing a service costs none of boto3's or pydantic's models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exhaust import ports

if TYPE_CHECKING:
    from exhaust.auth.scope import CourseDirectory


def request_store() -> ports.RequestStore:
    from exhaust.requests.store import RequestStore

    return RequestStore()


def request_queue() -> ports.RequestQueue:
    from exhaust.requests.adapters import RequestQueue

    return RequestQueue()


def key_vault() -> ports.KeyVault:
    from exhaust.requests.adapters import KeyVault

    return KeyVault()


def idempotency_records() -> ports.IdempotencyRecords:
    from exhaust.requests.adapters import IdempotencyRecords

    return IdempotencyRecords()


def link_signer() -> ports.LinkSigner:
    from exhaust.requests.adapters import LinkSigner

    return LinkSigner()


def dataset_registry() -> ports.DatasetRegistry:
    from exhaust.datasets.registry import DatasetRegistry

    return DatasetRegistry()


def course_directory() -> CourseDirectory:
    from exhaust.auth.directory import LakeCourseDirectory

    return LakeCourseDirectory()
