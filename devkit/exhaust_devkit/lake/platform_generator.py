"""A platform-shaped synthetic lake of any size: `exhaust lake generate --scale platform --enrolments N`.

Shaped like the platform the seeds describe, not like the other scales' few hand-picked courses:
- thousands of courses with one to five batches each, batch sizes skewed: most batches under 500 enrolments
  (log-normal, median about 55), a few over 100,000 (about two per million enrolments);
- users enrolled in several batches (about three enrolments per user);
- attempts at each course's assessments by about a third of the learners (four questions each, some retried),
  consents for the courses that ask for them (ACTIVE and REVOKED), registration consents, question types.

Written in bounded memory: a batch's rows are generated from a random stream of its own (seed and batch number),
so the tables stream to their part files a range of batches at a time (users a range of ids at a time), each
part file sorted and cut into row groups as the layout contract says (docs/lake.md). Same seed and size, same
lake. The derived tables are not written: `exhaust lake index` (either engine) writes them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from exhaust import readiness
from exhaust.lake import schemas
from exhaust.lake.index_parts import RowGroupWriter, part_file
from exhaust.lake.schemas import TABLES
from exhaust.lake.store import Lake

from exhaust_devkit.lake.generator import batch_mentors

PLATFORM = "platform"
# Rows per part file of the batch-keyed tables (enrolments, attempts) and users per part file of users.
PART_ROWS = 1_000_000
USER_PART_ROWS = 1_000_000
USER_CHUNK_ROWS = 131_072  # users generated at once (the same row groups whatever the chunk: RowGroupWriter)
ENROLMENTS_PER_USER = 3
# Batch sizes: log-normal (median e^4, about 55; about 3% over 500), and HUGE_PER_MILLION batches over 100,000.
SMALL_BATCH_MU, SMALL_BATCH_SIGMA, SMALL_BATCH_MAX = 4.0, 1.2, 20_000
HUGE_PER_MILLION, HUGE_MIN, HUGE_MAX = 2, 100_001, 250_000
ATTEMPT_SHARE = 0.35  # of a batch's learners attempt its course's assessment
QUESTIONS = 4
CONSENT_SHARE = 0.25  # of the courses ask for consent
OTHER_CONSUMER = "other-org-channel"
STATES = ("Karnataka", "Tamil Nadu", "Uttar Pradesh", "Maharashtra", "Assam", "Bihar", "Kerala", "Odisha")
BOARDS = ("CBSE", "State (Karnataka)", "State (Tamil Nadu)", "ICSE")
USER_TYPES = ("Teacher", "Student", "Parent", "Officials")
SUB_TYPES = ("HM", "CRP", "SPD", None)
ORGS = ("DIKSHA Custodian", "Karnataka State Education", "Tamil Nadu Samagra Shiksha", "UP Basic Shiksha")
EPOCH = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
CONSENT_TYPES = (("mcq", False), ("mtf", False), ("mmcq", False), ("ftb", True))


def batch_row(
    seed: int, batch_id: str, collection_id: str, name: str, start: dt.date, end: dt.date | None
) -> dict[str, Any]:
    """One batches row: the one place its columns are spelled (new columns of the schema go here). Its mentors
    come from the batch's own random stream, as the other scales' do (exhaust_devkit.lake.generator.batch_mentors)."""
    return {
        "batch_id": batch_id,
        "collection_id": collection_id,
        "name": name,
        "enrolment_type": "open",
        "start_date": start,
        "end_date": end,
        "created_by": f"mentor-{collection_id[-4:]}",
        "mentors": batch_mentors(seed, batch_id),
    }


@dataclass(frozen=True)
class Course:
    number: int
    collection_id: str
    channel: str
    requires_consent: bool
    leaf_ids: tuple[str, ...]
    assessment_id: str

    def row(self) -> dict[str, Any]:
        half = len(self.leaf_ids) // 2
        units = [
            {"unit_id": f"{self.collection_id}_u{index}", "name": f"Unit {index + 1}", "parent_id": None, "depth": 1,
             "trackable": True, "leaf_count": len(leaves), "leaf_ids": list(leaves)}
            for index, leaves in enumerate((self.leaf_ids[:half], self.leaf_ids[half:]))
        ]  # fmt: skip
        return {
            "collection_id": self.collection_id,
            "name": f"Course {self.number}",
            "channel": self.channel,
            "content_type": "Course",
            "status": "Retired" if self.number % 97 == 96 else "Live",
            "requires_consent": self.requires_consent,
            "leaf_count": len(self.leaf_ids),
            "leaf_ids": list(self.leaf_ids),
            "units": units,
            "assessments": [
                {"assessment_id": self.assessment_id, "name": "Check", "category": "SelfAssess", "unit_id": None}
            ],
            "created_on": EPOCH,
        }


@dataclass(frozen=True)
class Plan:
    """The lake's shape, decided up front (a few numbers per batch): sizes, courses, the users' pool."""

    seed: int
    sizes: tuple[int, ...]  # per batch, in batch id order
    course_of: tuple[int, ...]  # per batch: its course's number
    courses: tuple[Course, ...]
    users: int

    def batch_id(self, number: int) -> str:
        return f"b{number:08d}"


def user_id(number: int) -> str:
    return f"u{number:09d}"


def plan(enrolments: int, seed: int, channel: str) -> Plan:
    """Batch sizes summing to `enrolments` (the huge ones spread among the small), grouped into courses."""
    rng = random.Random(f"{seed}:plan")
    huge = [rng.randint(HUGE_MIN, HUGE_MAX) for _ in range(HUGE_PER_MILLION * enrolments // 1_000_000)]
    sizes: list[int] = []
    remaining = enrolments - sum(huge)
    while remaining > 0:
        size = min(int(rng.lognormvariate(SMALL_BATCH_MU, SMALL_BATCH_SIGMA)) + 1, SMALL_BATCH_MAX, remaining)
        sizes.append(size)
        remaining -= size
    for size in huge:
        sizes.insert(rng.randrange(len(sizes) + 1), size)
    course_of: list[int] = []
    course = 0
    while len(course_of) < len(sizes):
        course_of.extend([course] * rng.randint(1, 5))
        course += 1
    courses = tuple(
        Course(
            number,
            f"do_{number:08d}",
            channel if number % 3 else OTHER_CONSUMER,
            rng.random() < CONSENT_SHARE,
            tuple(f"do_{number:08d}_leaf{leaf}" for leaf in range(6)),
            f"do_{number:08d}_check",
        )
        for number in range(course)
    )
    biggest = max(sizes, default=0)
    return Plan(seed, tuple(sizes), tuple(course_of[: len(sizes)]), courses,
                max(enrolments // ENROLMENTS_PER_USER, 2 * biggest, 1))  # fmt: skip


class _Parts:
    """Writes one table as part files: each a range of sort keys, closed once it holds `part_rows` rows."""

    def __init__(self, lake: Lake, table: str, part_rows: int):
        self.lake, self.spec, self.part_rows = lake, TABLES[table], part_rows
        self.number, self.rows = 0, 0
        self.writer: RowGroupWriter | None = None
        lake.filesystem.create_dir(lake.table_dir(table), recursive=True)

    def add(self, rows: pa.Table) -> None:
        """Append rows sorted by the key and following the previous ones (a new part starts between calls)."""
        if self.writer is None:
            path = f"{self.lake.table_dir(self.spec.name)}/{part_file(self.number)}"
            self.writer = RowGroupWriter(self.lake.filesystem, path, self.spec, {})
        self.writer.add(rows.sort_by([(name, "ascending") for name in self.spec.sort_key]))
        self.rows += rows.num_rows
        if self.rows >= self.part_rows:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer, self.rows, self.number = None, 0, self.number + 1


def _users(plan: Plan, lake: Lake) -> None:
    parts = _Parts(lake, "users", USER_PART_ROWS)
    for start in range(0, plan.users, USER_CHUNK_ROWS):
        numbers = range(start, min(start + USER_CHUNK_ROWS, plan.users))
        # Each column from the user's number alone: no random stream to keep, any range written independently.
        parts.add(
            pa.table(
                {
                    "user_id": [user_id(n) for n in numbers],
                    "name": [f"Learner {n}" for n in numbers],
                    "state": [STATES[n % len(STATES)] for n in numbers],
                    "district": [f"District {n % 41}" for n in numbers],
                    "block": [f"Block {n % 211}" for n in numbers],
                    "cluster": [f"Cluster {n % 997}" for n in numbers],
                    "school_id": [f"school-{n % 9973}" for n in numbers],
                    "school_name": [f"School {n % 9973}" for n in numbers],
                    "org_name": [ORGS[n % len(ORGS)] for n in numbers],
                    "board": [BOARDS[n % len(BOARDS)] for n in numbers],
                    "user_type": [USER_TYPES[n % len(USER_TYPES)] for n in numbers],
                    "user_sub_type": [SUB_TYPES[n % len(SUB_TYPES)] for n in numbers],
                    "declared_org": [ORGS[(n // 7) % len(ORGS)] for n in numbers],
                    "email": [f"learner{n}@example.org" if n % 3 else None for n in numbers],
                    "phone": [f"9{n:09d}" if n % 2 else None for n in numbers],
                    "root_org_id": [f"org-{n % len(ORGS)}" for n in numbers],
                },
                schema=schemas.USERS,
            )
        )
    parts.close()


EPOCH_MS = int(EPOCH.timestamp() * 1000)
SPAN_MS = 3 * 365 * 86_400_000
DAY_MS = 86_400_000
RESPONSES = tuple(json.dumps({"answer": answer}) for answer in "abc")


def _times(milliseconds: Sequence[int | None]) -> pa.Array:
    return pa.array(milliseconds, pa.int64()).cast(schemas.TIMESTAMP)


@dataclass
class _Batch:
    """One batch's rows, from a random stream of its own."""

    enrolments: pa.Table
    attempts: pa.Table
    learners: list[str]
    attempted: list[str]


def _batch(plan: Plan, number: int) -> _Batch:
    rng = random.Random(f"{plan.seed}:batch:{number}")
    course = plan.courses[plan.course_of[number]]
    batch_id = plan.batch_id(number)
    size = plan.sizes[number]
    learners = [user_id(n) for n in sorted(rng.sample(range(plan.users), size))]
    leaves = course.leaf_ids
    enrolled_on = [EPOCH_MS + rng.randrange(SPAN_MS) for _ in learners]
    done = [rng.randint(0, len(leaves)) for _ in learners]
    finished = [count == len(leaves) and rng.random() < 0.8 for count in done]
    completed_on = [start + rng.randrange(DAY_MS, 60 * DAY_MS) if end else None
                    for start, end in zip(enrolled_on, finished, strict=True)]  # fmt: skip
    completed = _times(completed_on)
    certificates = [
        [{"certificate_id": "cert", "name": "Completion", "status": "Issued", "issued_on": on}] if on else []
        for on in completed.to_pylist()
    ]
    enrolments = pa.table(
        {"batch_id": [batch_id] * size, "user_id": learners, "collection_id": [course.collection_id] * size,
         "enrolled_on": _times(enrolled_on), "completed_on": completed,
         "status": [2 if end else (1 if count else 0) for count, end in zip(done, finished, strict=True)],
         "completed_contents": [list(leaves[:count]) for count in done], "certificates": certificates},
        schema=schemas.ENROLMENTS,
    )  # fmt: skip
    attempted = [learner for learner in learners if rng.random() < ATTEMPT_SHARE]
    users, attempt_ids, times = [], [], []
    for learner in attempted:
        for attempt in range(1 + (rng.random() < 0.3)):
            users.append(learner)
            attempt_ids.append(f"{batch_id}-{learner}-{attempt}")
            times.append(EPOCH_MS + rng.randrange(SPAN_MS))
    scores = [rng.randint(0, 2) for _ in range(len(users) * QUESTIONS)]
    rows = len(scores)

    def each(values: list[Any]) -> list[Any]:  # an attempt's value on each of its questions
        return [value for value in values for _ in range(QUESTIONS)]

    attempts = pa.table(
        {"batch_id": [batch_id] * rows, "user_id": each(users), "collection_id": [course.collection_id] * rows,
         "content_id": [course.assessment_id] * rows, "content_title": ["Check"] * rows,
         "attempt_id": each(attempt_ids), "attempted_on": _times(each(times)),
         "question_index": list(range(QUESTIONS)) * len(users),
         "question_id": [f"q{q}" for q in range(QUESTIONS)] * len(users),
         "question_type": [kind for kind, _ in CONSENT_TYPES] * len(users),
         "question_title": [f"Question {q + 1}" for q in range(QUESTIONS)] * len(users),
         "question_description": [None] * rows, "question_duration": [float(5 + score * 20) for score in scores],
         "question_score": [float(score) for score in scores], "question_max_score": [2.0] * rows,
         "question_options": ['["a","b","c"]'] * rows, "question_response": [RESPONSES[score] for score in scores]},
        schema=schemas.ASSESSMENT_ATTEMPTS,
    )  # fmt: skip
    return _Batch(enrolments, attempts, learners, attempted)


def _consents(plan: Plan, course: Course, learners: list[str], attempted: list[str]) -> tuple[pa.Table, pa.Table]:
    """The course's consent events (to its channel and another org) and registration consents."""
    rng = random.Random(f"{plan.seed}:consents:{course.number}")
    consents: list[dict[str, Any]] = []
    if course.requires_consent:
        for consumer in sorted({course.channel, OTHER_CONSUMER}):
            for learner in sorted(set(learners)):
                if rng.random() < 0.6:
                    status = "ACTIVE" if rng.random() < 0.8 else "REVOKED"
                    consents.append({"collection_id": course.collection_id, "consumer_id": consumer,
                                     "user_id": learner, "status": status, "consented_on": _moment(rng)})  # fmt: skip
    registration: list[dict[str, Any]] = []
    for learner in sorted(set(attempted)):
        if rng.random() < 0.5:
            status = "ACTIVE" if rng.random() < 0.85 else "REVOKED"
            registration.append({"collection_id": course.collection_id, "user_id": learner, "status": status,
                                 "consented_on": _moment(rng)})  # fmt: skip
    return (pa.Table.from_pylist(consents, schema=schemas.CONSENTS),
            pa.Table.from_pylist(registration, schema=schemas.REGISTRATION_CONSENTS))  # fmt: skip


def _moment(rng: random.Random) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=rng.randrange(SPAN_MS))


def _batches_of_courses(plan: Plan) -> Iterator[tuple[Course, list[int]]]:
    """Each course with its batch numbers (consecutive: batch ids are grouped by course)."""
    starts = [0]
    for number in range(1, len(plan.sizes)):
        if plan.course_of[number] != plan.course_of[number - 1]:
            starts.append(number)
    for start, end in zip(starts, [*starts[1:], len(plan.sizes)], strict=True):
        if start < end:
            yield plan.courses[plan.course_of[start]], list(range(start, end))


def generate_platform(
    enrolments: int, seed: int, out: str | Lake, *, channel: str = "local-channel", today: dt.date | None = None
) -> dict[str, Any]:
    """Write a platform-shaped lake of `enrolments` enrolments; answer its shape and sample ids."""
    if enrolments < 1:
        raise ValueError("--enrolments must be at least 1")
    lake = out if isinstance(out, Lake) else Lake.open(out)
    shape = plan(enrolments, seed, channel)
    lake.write(
        "collections", pa.Table.from_pylist([course.row() for course in shape.courses], schema=schemas.COLLECTIONS)
    )
    start = dt.date(2022, 1, 1)
    lake.write(
        "batches",
        pa.Table.from_pylist(
            [batch_row(seed, shape.batch_id(number), shape.courses[course].collection_id, f"Batch {number}",
                       start + dt.timedelta(days=number % 900), None if number % 4 else start + dt.timedelta(days=1200))
             for number, course in enumerate(shape.course_of)],
            schema=schemas.BATCHES,
        ),
    )  # fmt: skip
    lake.write("question_types", pa.Table.from_pylist(
        [{"question_type": kind, "requires_registration_consent": needs} for kind, needs in CONSENT_TYPES],
        schema=schemas.QUESTION_TYPES))  # fmt: skip
    _users(shape, lake)
    tables = {name: _Parts(lake, name, PART_ROWS) for name in ("enrolments", "assessment_attempts")}
    consents = _Parts(lake, "consents", PART_ROWS)
    registration = _Parts(lake, "registration_consents", PART_ROWS)
    attempts = 0
    for course, numbers in _batches_of_courses(shape):
        learners: list[str] = []
        attempted: list[str] = []
        for number in numbers:
            batch = _batch(shape, number)
            tables["enrolments"].add(batch.enrolments)
            tables["assessment_attempts"].add(batch.attempts)
            attempts += batch.attempts.num_rows
            learners += batch.learners
            attempted += batch.attempted
        course_consents, course_registration = _consents(shape, course, learners, attempted)
        consents.add(course_consents)
        registration.add(course_registration)
    for parts in (*tables.values(), consents, registration):
        parts.close()
    # Complete up to today's midnight, as the other scales say (exhaust.readiness).
    with lake.filesystem.open_output_stream(f"{lake.root}/{readiness.MARKER_NAME}") as marker:
        today = today or dt.datetime.now(dt.UTC).date()
        marker.write(readiness.marker_body(readiness.midnight_utc(today), "generator"))
    sizes = sorted(shape.sizes)
    return {
        "out": lake.root,
        "enrolments": sum(shape.sizes),
        "batches": len(shape.sizes),
        "courses": len(shape.courses),
        "users": shape.users,
        "attemptRows": attempts,
        "batchesUnder500": bisect.bisect_left(sizes, 500),
        "batchesOver100k": len(sizes) - bisect.bisect_right(sizes, 100_000),
        "largestBatchId": shape.batch_id(max(range(len(shape.sizes)), key=shape.sizes.__getitem__)),
        "medianBatch": sizes[len(sizes) // 2] if sizes else 0,
        "p99Batch": sizes[min(len(sizes) - 1, math.ceil(0.99 * len(sizes)) - 1)] if sizes else 0,
    }
