"""The courses a caller may request exports of: a searchable, paged list of a channel's courses and their batches.

    lake = Lake.open(uri)
    page = course_page(Catalog(lake), scope, partial(enrolment_counts, lake), today=..., expiry_days=365, query="arith")

Every collection of the scope's channel that is not retired and has a batch that has not expired is listed, with
those batches (a request for a retired collection or an expired batch would fail), ordered by name then id, with
each batch's dates and enrolment count. `query` (already case-folded) matches the course's name or id and the
batch's name or id, ignoring letter case. Enrolments are counted for the page's batches only, in one read of the
enrolments table's batch_id column whose row groups the footers' statistics pick (one batch per row group).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exhaust.errors import BadRequest
from exhaust.lake.catalog import BatchInfo, Catalog, CollectionInfo
from exhaust.lake.store import Lake
from exhaust.requests.limits import COURSES_DEFAULT_LIMIT


@dataclass(frozen=True)
class CourseScope:
    """What the caller may list: the channel it acts for, narrowed to some courses when its role says so."""

    channel: str
    # None: every course of the channel; else only these collection ids.
    course_ids: frozenset[str] | None = None
    why: str = "the channel's courses"

    def admits(self, collection: CollectionInfo) -> bool:
        if collection.channel != self.channel:
            return False
        return self.course_ids is None or collection.collection_id in self.course_ids


@dataclass(frozen=True)
class BatchEntry:
    batchId: str
    name: str
    startDate: str | None
    endDate: str | None
    enrolments: int

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class CourseEntry:
    courseId: str
    name: str
    status: str
    requiresConsent: bool
    batches: tuple[BatchEntry, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "courseId": self.courseId,
            "name": self.name,
            "status": self.status,
            "requiresConsent": self.requiresConsent,
            "batches": [batch.as_dict() for batch in self.batches],
        }


@dataclass(frozen=True)
class CoursePage:
    total: int
    courses: tuple[CourseEntry, ...]
    next_cursor: str | None
    scope: str

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "count": self.total,
            "scope": self.scope,
            "courses": [course.as_dict() for course in self.courses],
        }
        if self.next_cursor is not None:
            answer["nextCursor"] = self.next_cursor
        return answer


def _sort_key(collection: CollectionInfo) -> tuple[str, str]:
    return (collection.name.casefold(), collection.collection_id)


def encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: a cursor of nested brackets
        key = None
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(part, str) for part in key)):
        raise BadRequest("cursor: not a nextCursor this route answered; start again without it")
    return key[0], key[1]


def _matches(query: str, collection: CollectionInfo, batches: list[BatchInfo]) -> bool:
    if not query:
        return True
    texts = [collection.name, collection.collection_id, *(text for b in batches for text in (b.name, b.batch_id))]
    return any(query in text.casefold() for text in texts)


def enrolment_counts(lake: Lake, batch_ids: list[str]) -> dict[str, int]:
    """How many users each batch enrols (0 for a batch without enrolments)."""
    counts = dict.fromkeys(batch_ids, 0)
    if not batch_ids:
        return counts
    for batch in lake.scan("enrolments", ["batch_id"], isin={"batch_id": batch_ids}):
        for batch_id in batch.column(0).to_pylist():
            counts[batch_id] += 1
    return counts


def course_page(
    catalog: Catalog,
    scope: CourseScope,
    enrolments_of: Callable[[list[str]], dict[str, int]],
    *,
    today: dt.date,
    expiry_days: int,
    query: str = "",
    limit: int = COURSES_DEFAULT_LIMIT,
    cursor: str | None = None,
) -> CoursePage:
    """One page of the scope's requestable courses matching `query`, after `cursor` (the previous nextCursor)."""
    batches_by_course: dict[str, list[BatchInfo]] = {}
    for batch in catalog.batches.values():
        if batch.expired(today, expiry_days):
            continue
        batches_by_course.setdefault(batch.collection_id, []).append(batch)
    matching = sorted(
        (
            collection
            for collection_id, collection in catalog.collections.items()
            if collection_id in batches_by_course
            and not collection.retired
            and scope.admits(collection)
            and _matches(query, collection, batches_by_course[collection_id])
        ),
        key=_sort_key,
    )
    after = decode_cursor(cursor) if cursor else None
    remaining = [collection for collection in matching if after is None or _sort_key(collection) > after]
    shown, more = remaining[:limit], len(remaining) > limit
    enrolments = enrolments_of(
        [batch.batch_id for collection in shown for batch in batches_by_course[collection.collection_id]]
    )
    courses = tuple(
        CourseEntry(
            courseId=collection.collection_id,
            name=collection.name,
            status=collection.status,
            requiresConsent=collection.requires_consent,
            batches=tuple(
                BatchEntry(
                    batchId=batch.batch_id,
                    name=batch.name,
                    startDate=batch.start_date,
                    endDate=batch.end_date,
                    enrolments=enrolments[batch.batch_id],
                )
                for batch in sorted(batches_by_course[collection.collection_id], key=lambda b: b.batch_id)
            ),
        )
        for collection in shown
    )
    next_cursor = encode_cursor(_sort_key(shown[-1])) if more and shown else None
    return CoursePage(total=len(matching), courses=courses, next_cursor=next_cursor, scope=scope.why)
