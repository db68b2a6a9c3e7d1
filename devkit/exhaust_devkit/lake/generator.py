"""A deterministic synthetic lake: `generate(scale, seed, out, channel=...)` -> the sample ids.

The same scale, seed, channel and `today` always give the same rows. Shapes a real lake has and the builders
must handle: nested trackable units, several assessments (SelfAssess, practice, an unscored survey), repeated
attempts, ACTIVE / REVOKED / absent consents (and consents given to another org), a retired collection, a
course without a leaf count, users with missing fields, and names with commas, quotes, newlines, Hindi and Tamil.

Scales: tiny (a few dozen enrolments, for tests), small (local mode, a few seconds), medium (~100k enrolments),
large (one batch of 1,000,000 enrolments plus many small batches, for the benchmark), answers (tiny's courses
with 100,000 partner events and 100,000 observations a day, 6,000,000 of each: the legacy and export benchmark).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from exhaust import readiness
from exhaust.lake import schemas
from exhaust.lake.materialized import index_lake
from exhaust.lake.store import Lake

from exhaust_devkit.lake.vocabulary import EVENT_TYPES, OBSERVATION_KINDS

DEFAULT_PARTNER_ID = "org.sample.partner"
OTHER_ORG = "other-org-channel"
TELEMETRY_DAYS = 60
OBSERVATION_DAYS = 60


@dataclass(frozen=True)
class Scale:
    extra_collections: int
    batches_per_collection: tuple[int, int]
    enrolments_per_batch: tuple[int, int]
    spare_users: int
    big_batch_enrolments: int
    attempt_share: float
    telemetry_per_day: int
    observations_per_day: int
    # Telemetry and observations written column-wise a day at a time (exhaust_devkit.lake.answers_scale).
    bulk_answers: bool = False


SCALES: dict[str, Scale] = {
    "tiny": Scale(2, (1, 2), (6, 12), 10, 0, 0.8, 6, 4),
    "small": Scale(8, (1, 3), (20, 80), 200, 0, 0.6, 40, 12),
    "medium": Scale(30, (2, 4), (200, 1500), 5_000, 0, 0.4, 400, 48),
    "large": Scale(60, (2, 4), (50, 400), 10_000, 1_000_000, 0.1, 400, 48),
    "answers": Scale(2, (1, 2), (6, 12), 10, 0, 0.8, 100_000, 100_000, bulk_answers=True),
}

FIRST_NAMES = [
    "Priya",
    "Ravi",
    "Anil",
    "Meera",
    "Suresh",
    "Lakshmi",
    "Arjun",
    "Fatima",
    "John",
    "Kavya",
    "अनिल",
    "सुनीता",
    "राहुल",
    "प्रिया",
    "சுப்பிரமணியன்",
    "கார்த்திக்",
    "மீனா",
    "Zoë",
    "José",
]
LAST_NAMES = [
    "Sharma",
    "Kumar",
    "Nair",
    "Iyer",
    "Reddy",
    "Das",
    "Khan",
    "D'Souza",
    "Singh",
    "Patel",
    "कुमार",
    "शर्मा",
    "வேலு",
    "ராமன்",
    "O'Brien",
]
# Names a CSV writer must quote: they must come back unchanged.
AWKWARD_NAMES = [
    "Sharma, Priya",
    'Ravi "Rocky" Kumar',
    "Anil\nKumar",
    "अनिल कुमार, शिक्षक",
    'சுப்பிரமணியன் "சுப்பு"',
    "  Leading, trailing  ",
]
STATES = {
    "Karnataka": ["Bengaluru Urban", "Mysuru", "Belagavi"],
    "Tamil Nadu": ["Chennai", "Madurai", "Coimbatore"],
    "Uttar Pradesh": ["Lucknow", "Varanasi", "Agra"],
    "Maharashtra": ["Pune", "Nagpur", "Mumbai"],
}
BOARDS = ["CBSE", "State (Karnataka)", "State (Tamil Nadu)", "ICSE"]
USER_TYPES: dict[str, list[str | None]] = {
    "Teacher": ["HM", "Teacher"],
    "Student": [None],
    "Parent": [None],
    "Officials": ["SPD", "CRP", "BRC"],
}
ORGS = ["DIKSHA Custodian", "Karnataka State Education", "Tamil Nadu Samagra Shiksha", "UP Basic Shiksha"]
COURSE_TITLES = [
    "Basics of Arithmetic, Part 1",
    'Reading "Well" for Beginners',
    "गणित की मूल बातें",
    "அறிவியல் அறிமுகம்",
    "Classroom Management\nFor New Teachers",
    "Digital Literacy",
    "Inclusive Education",
    "Foundational Numeracy",
]
QUESTION_TYPES = ["mcq", "mtf", "mmcq", "ftb"]
# Batches are created by and mentored by users `mentor-0` .. `mentor-19` (a COURSE_ADMIN token of one of them acts on
# the courses of those batches, exhaust.auth.scope); about one batch in five names no mentor.
MENTOR_POOL = 20
MENTORS_PER_BATCH = (1, 3)
NO_MENTORS_SHARE = 0.2


def batch_mentors(seed: int | str, batch_id: str) -> list[str] | None:
    """A batch's mentors, from a random stream of the batch's own: every other row stays what it was for a seed."""
    rng = random.Random(f"{seed}:mentors:{batch_id}")
    if rng.random() < NO_MENTORS_SHARE:
        return None
    pool = [f"mentor-{number}" for number in range(MENTOR_POOL)]
    return sorted(rng.sample(pool, rng.randint(*MENTORS_PER_BATCH)))


def resource_id_of(partner_id: str) -> str:
    """The legacy API's resource id of a partner: the SHA-1 hex of its id."""
    return hashlib.sha1(partner_id.encode()).hexdigest()  # noqa: S324 - an identifier, not a security hash


class Ids:
    """Deterministic ids in the reference system's shapes (do_<digits> content ids, 20-digit batch ids)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen: set[str] = set()

    def _unique(self, make: Any) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return str(value)

    def content(self) -> str:
        return self._unique(lambda: f"do_{self.rng.randrange(10**18, 10**19)}")

    def batch(self) -> str:
        return self._unique(lambda: f"{self.rng.randrange(10**19, 10**20):020d}")

    def user(self) -> str:
        return self._unique(lambda: f"{self.rng.getrandbits(128):032x}")


@dataclass
class CourseShape:
    row: dict[str, Any]
    questions: dict[str, list[dict[str, Any]]]  # assessment id -> its questions
    completion_patterns: list[list[str]]


def _timestamp(day: dt.date, seconds: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


class Generator:
    def __init__(self, scale: str, seed: int, channel: str, today: dt.date, partner_id: str):
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}: one of {', '.join(SCALES)}")
        self.scale_name = scale
        self.scale = SCALES[scale]
        self.seed = seed
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.channel = channel
        self.today = today
        self.partner_id = partner_id

    # ---- collections -------------------------------------------------------------------------------------
    def course(
        self,
        title: str,
        *,
        channel: str,
        status: str = "Live",
        requires_consent: bool = False,
        nested: bool = True,
        leaf_count_known: bool = True,
    ) -> CourseShape:
        rng = self.rng
        collection_id = self.ids.content()
        units: list[dict[str, Any]] = []
        assessments: list[dict[str, Any]] = []
        questions: dict[str, list[dict[str, Any]]] = {}
        all_leaves: list[str] = []
        categories = ["SelfAssess", "Practice Question Set", "SelfAssess", "Survey"]
        unit_total = rng.randint(2, 4) if nested else 0
        for unit_number in range(1, unit_total + 1):
            unit_id = self.ids.content()
            unit: dict[str, Any] = {
                "unit_id": unit_id,
                "name": f"Unit {unit_number}",
                "parent_id": collection_id,
                "depth": 1,
                "trackable": unit_number != 2,
                "leaf_count": None,
                "leaf_ids": [],
            }
            units.append(unit)
            children = [unit]
            if unit_number == 1:
                sub_id = self.ids.content()
                sub: dict[str, Any] = {
                    "unit_id": sub_id,
                    "name": "Unit 1.1",
                    "parent_id": unit_id,
                    "depth": 2,
                    "trackable": True,
                    "leaf_count": None,
                    "leaf_ids": [],
                }
                units.append(sub)
                children.append(sub)
            for holder in children:
                leaves = [self.ids.content() for _ in range(rng.randint(2, 4))]
                # Most units hold one assessment; the last one takes those left, so every category appears.
                wanted = 1 if rng.random() < 0.8 else 0
                if unit_number == unit_total and holder is children[-1]:
                    wanted = len(categories)
                for _ in range(min(wanted, len(categories))):
                    assessment_id = self.ids.content()
                    category = categories.pop(0)
                    assessments.append(
                        {
                            "assessment_id": assessment_id,
                            "name": f"{category} {len(assessments) + 1}",
                            "category": category,
                            "unit_id": holder["unit_id"],
                        }
                    )
                    questions[assessment_id] = self.question_bank(rng.randint(3, 5))
                    leaves.append(assessment_id)
                for owner in (unit, holder) if holder is not unit else (unit,):
                    owner["leaf_ids"].extend(leaves)
                all_leaves.extend(leaves)
        if not nested:
            all_leaves = [self.ids.content() for _ in range(rng.randint(3, 8))]
            assessment_id = self.ids.content()
            assessments.append(
                {"assessment_id": assessment_id, "name": "SelfAssess 1", "category": "SelfAssess", "unit_id": None}
            )
            questions[assessment_id] = self.question_bank(4)
            all_leaves.append(assessment_id)
        trackable = [index for index, unit in enumerate(units) if unit["trackable"]]
        for index, unit in enumerate(units):
            # Every unit of a course without leaf counts, and the last trackable unit of nested courses, lack a
            # leaf count, as metadata in the wild sometimes does.
            missing = not leaf_count_known or (len(trackable) > 1 and index == trackable[-1])
            unit["leaf_count"] = None if missing else len(unit["leaf_ids"])
        patterns = []
        for _ in range(24):
            done = [leaf for leaf in all_leaves if rng.random() < rng.random()]
            patterns.append(done)
        patterns.append([])
        row = {
            "collection_id": collection_id,
            "name": title,
            "channel": channel,
            "content_type": "Course",
            "status": status,
            "requires_consent": requires_consent,
            "leaf_count": len(all_leaves) if leaf_count_known else None,
            "leaf_ids": all_leaves,
            "units": units,
            "assessments": assessments,
            "created_on": _timestamp(self.today - dt.timedelta(days=rng.randint(150, 400)), 3600),
        }
        return CourseShape(row=row, questions=questions, completion_patterns=patterns)

    def question_bank(self, count: int) -> list[dict[str, Any]]:
        bank = []
        for index in range(count):
            question_type = QUESTION_TYPES[index % len(QUESTION_TYPES)]
            options = [{"label": label, "value": value} for value, label in enumerate(["2", "4", "6, or 8", "चार"])]
            bank.append(
                {
                    "question_index": index,
                    "question_id": self.ids.content(),
                    "question_type": question_type,
                    "question_title": f"Q{index + 1}: What is 2 + 2?" if index % 2 == 0 else "ஒன்று + ஒன்று?",
                    "question_description": None if index == 1 else 'Pick the "best" answer, then submit',
                    "question_max_score": float(1 + index % 2),
                    "question_options": json.dumps(options, ensure_ascii=False),
                }
            )
        return bank

    # ---- users ---------------------------------------------------------------------------------------------
    def users(self, count: int) -> tuple[list[str], pa.Table]:
        rng = self.rng
        random_ = rng.random
        states = list(STATES)
        user_types = list(USER_TYPES)
        columns: dict[str, list[Any]] = {name: [] for name in schemas.USERS.names}
        ids = [self.ids.user() for _ in range(count)]
        for position, user_id in enumerate(ids):
            state = states[int(random_() * len(states))]
            user_type = user_types[int(random_() * len(user_types))]
            sub_types = USER_TYPES[user_type]
            if position < len(AWKWARD_NAMES):
                name = AWKWARD_NAMES[position]
            else:
                name = (
                    f"{FIRST_NAMES[int(random_() * len(FIRST_NAMES))]} {LAST_NAMES[int(random_() * len(LAST_NAMES))]}"
                )
            school = int(random_() * 5000)
            columns["user_id"].append(user_id)
            columns["name"].append(name)
            columns["state"].append(state if random_() > 0.05 else None)
            columns["district"].append(STATES[state][int(random_() * 3)] if random_() > 0.1 else None)
            columns["block"].append(f"Block {school % 40}" if random_() > 0.2 else None)
            columns["cluster"].append(f"Cluster {school % 200}" if random_() > 0.3 else None)
            has_school = random_() > 0.15
            columns["school_id"].append(f"{29000000000 + school * 7}" if has_school else None)
            columns["school_name"].append(f"Govt. School No. {school}, {state}" if has_school else None)
            columns["org_name"].append(ORGS[int(random_() * len(ORGS))])
            columns["board"].append(BOARDS[int(random_() * len(BOARDS))] if random_() > 0.1 else None)
            columns["user_type"].append(user_type if random_() > 0.05 else None)
            columns["user_sub_type"].append(sub_types[int(random_() * len(sub_types))])
            columns["declared_org"].append(f"Teachers' Forum {school % 9}" if random_() < 0.3 else None)
            columns["email"].append(f"user{position}@example.org" if random_() > 0.2 else None)
            columns["phone"].append(f"9{position % 1000000000:09d}" if random_() > 0.3 else None)
            columns["root_org_id"].append(f"org-{school % 4}")
        return ids, pa.table(columns, schema=schemas.USERS)

    # ---- enrolments, consents, attempts ------------------------------------------------------------------
    def enrolments(self, shape: CourseShape, batch_id: str, users: list[str]) -> pa.Table:
        rng = self.rng
        random_ = rng.random
        patterns = shape.completion_patterns
        leaves = shape.row["leaf_ids"]
        full = len(patterns)
        pattern_list = pa.array([*patterns, leaves], type=pa.list_(pa.string()))
        certificates = pa.array(
            [
                [],
                [
                    {
                        "certificate_id": "cert-template-1",
                        "name": "Completion certificate",
                        "status": "Issued",
                        "issued_on": _timestamp(self.today - dt.timedelta(days=3), 0),
                    }
                ],
                [
                    {
                        "certificate_id": "cert-template-1",
                        "name": "Completion certificate",
                        "status": "Failed",
                        "issued_on": None,
                    }
                ],
            ],
            type=pa.list_(schemas.CERTIFICATE),
        )
        enrolled: list[dt.datetime] = []
        completed: list[dt.datetime | None] = []
        status: list[int] = []
        pattern_index: list[int] = []
        certificate_index: list[int] = []
        for _ in users:
            start = self.today - dt.timedelta(days=int(random_() * 120) + 5)
            enrolled.append(_timestamp(start, int(random_() * 86400)))
            roll = random_()
            if roll < 0.3:
                completed.append(_timestamp(start + dt.timedelta(days=int(random_() * 4) + 1), 7200))
                status.append(schemas.ENROLMENT_COMPLETED)
                pattern_index.append(full)
                certificate_index.append(1 if random_() < 0.85 else 2)
            else:
                completed.append(None)
                status.append(1 if roll < 0.85 else 0)
                pattern_index.append(int(random_() * (full - 1)) if roll < 0.85 else full - 1)
                certificate_index.append(0)
        count = len(users)
        return pa.table(
            {
                "batch_id": pa.array([batch_id] * count, pa.string()),
                "user_id": pa.array(users, pa.string()),
                "collection_id": pa.array([shape.row["collection_id"]] * count, pa.string()),
                "enrolled_on": pa.array(enrolled, schemas.TIMESTAMP),
                "completed_on": pa.array(completed, schemas.TIMESTAMP),
                "status": pa.array(status, pa.int8()),
                "completed_contents": pattern_list.take(pa.array(pattern_index, pa.int32())),
                "certificates": certificates.take(pa.array(certificate_index, pa.int32())),
            },
            schema=schemas.ENROLMENTS,
        )

    def consents(self, shape: CourseShape, users: list[str]) -> list[dict[str, Any]]:
        rows = []
        collection_id = shape.row["collection_id"]
        for position, user_id in enumerate(users):
            roll = self.rng.random()
            given = _timestamp(self.today - dt.timedelta(days=self.rng.randint(3, 90)), 3600 + position % 3600)
            # The first users cover every case: active, revoked after giving, never asked, other org only.
            if position % 5 == 2 or roll < 0.15:
                rows.append(self._consent(collection_id, self.channel, user_id, schemas.CONSENT_ACTIVE, given))
                rows.append(
                    self._consent(
                        collection_id, self.channel, user_id, schemas.CONSENT_REVOKED, given + dt.timedelta(days=1)
                    )
                )
            elif position % 5 == 3 or roll < 0.3:
                continue
            elif position % 5 == 4 or roll < 0.35:
                rows.append(self._consent(collection_id, OTHER_ORG, user_id, schemas.CONSENT_ACTIVE, given))
            else:
                rows.append(self._consent(collection_id, self.channel, user_id, schemas.CONSENT_ACTIVE, given))
        return rows

    @staticmethod
    def _consent(collection_id: str, consumer: str, user_id: str, status: str, on: dt.datetime) -> dict[str, Any]:
        return {
            "collection_id": collection_id,
            "consumer_id": consumer,
            "user_id": user_id,
            "status": status,
            "consented_on": on,
        }

    def attempts(self, shape: CourseShape, batch_id: str, users: list[str], share: float) -> Iterator[dict[str, Any]]:
        rng = self.rng
        random_ = rng.random
        collection_id = shape.row["collection_id"]
        titles = {item["assessment_id"]: item["name"] for item in shape.row["assessments"]}
        for user_id in users:
            if random_() >= share:
                continue
            for assessment_id, bank in shape.questions.items():
                if random_() < 0.3:
                    continue
                for _ in range(1 + int(random_() * 2.5)):
                    attempt_id = f"{rng.getrandbits(64):016x}"
                    attempted_on = _timestamp(
                        self.today - dt.timedelta(days=int(random_() * 60) + 1), int(random_() * 86400)
                    )
                    for question in bank:
                        maximum = question["question_max_score"]
                        score = float(int(random_() * (maximum + 1)))
                        yield {
                            "batch_id": batch_id,
                            "user_id": user_id,
                            "collection_id": collection_id,
                            "content_id": assessment_id,
                            "content_title": titles[assessment_id],
                            "attempt_id": attempt_id,
                            "attempted_on": attempted_on,
                            **question,
                            "question_duration": float(int(random_() * 120) + 5),
                            "question_score": score,
                            "question_response": json.dumps(
                                [{"value": int(score), "label": "4" if score else "6, or 8"}], ensure_ascii=False
                            ),
                        }

    # ---- telemetry and observations -----------------------------------------------------------------------
    def telemetry(self) -> pa.Table:
        rng = self.rng
        rows: list[dict[str, Any]] = []
        contents = [self.ids.content() for _ in range(12)]
        for day_offset in range(TELEMETRY_DAYS, 0, -1):
            day = self.today - dt.timedelta(days=day_offset)
            for partner in (self.partner_id, "org.other.partner"):
                per_day = self.scale.telemetry_per_day if partner == self.partner_id else 3
                for index in range(per_day):
                    session = f"session-{day:%Y%m%d}-{index // 4}"
                    eid = EVENT_TYPES[index % 4]
                    ets = _timestamp(day, 6 * 3600 + index * 97 + rng.randint(0, 60))
                    content = contents[rng.randrange(len(contents))]
                    actor = f"actor-{rng.randrange(50)}"
                    duration = float(rng.randint(10, 900)) if eid == "END" else 0.0
                    event_id = f"{rng.getrandbits(96):024x}"
                    event = {
                        "eid": eid,
                        "mid": event_id,
                        "ets": int(ets.timestamp() * 1000),
                        "actor": {"id": actor, "type": "User"},
                        "context": {"channel": self.channel, "sid": session, "pdata": {"id": partner}},
                        "object": {"id": content, "type": "Content"},
                        "edata": {"duration": duration} if eid == "END" else {"type": eid.lower()},
                    }
                    rows.append(
                        {
                            "event_date": day,
                            "channel": self.channel,
                            "partner_id": partner,
                            "event_id": event_id,
                            "eid": eid,
                            "ets": ets,
                            "session_id": session,
                            "actor_id": actor,
                            "content_id": content,
                            "duration_seconds": duration,
                            "event_json": json.dumps(event, separators=(",", ":")),
                        }
                    )
        return pa.Table.from_pylist(rows, schema=schemas.TELEMETRY)

    def observations(self) -> pa.Table:
        rng = self.rng
        rows = []
        for day_offset in range(OBSERVATION_DAYS, 0, -1):
            day = self.today - dt.timedelta(days=day_offset)
            for index in range(self.scale.observations_per_day):
                producer_type, metric, unit, low, high = OBSERVATION_KINDS[index % len(OBSERVATION_KINDS)]
                rows.append(
                    {
                        "observed_at": _timestamp(day, index * (86400 // self.scale.observations_per_day)),
                        "producer_type": producer_type,
                        "producer_id": f"{producer_type}-{index % 3 + 1}",
                        "metric": metric,
                        "unit": unit,
                        "value": round(rng.uniform(low, high), 2),
                        "channel": self.channel,
                    }
                )
        return pa.Table.from_pylist(rows, schema=schemas.OBSERVATIONS)

    # ---- the whole lake -----------------------------------------------------------------------------------
    def run(self, lake: Lake) -> dict[str, Any]:
        scale = self.scale
        rng = self.rng
        main = self.course("Basics of Arithmetic, Part 1", channel=self.channel, requires_consent=True)
        second = self.course('Reading "Well" for Beginners', channel=self.channel, nested=False)
        retired = self.course("Retired: Old Syllabus", channel=self.channel, status="Retired")
        unknown_leaves = self.course("Legacy Course", channel=self.channel, leaf_count_known=False)
        courses = [main, second, retired, unknown_leaves]
        for index in range(scale.extra_collections):
            courses.append(
                self.course(
                    COURSE_TITLES[index % len(COURSE_TITLES)] + f" ({index + 1})",
                    channel=self.channel if index % 4 else OTHER_ORG,
                    status="Unlisted" if index % 7 == 3 else "Live",
                    requires_consent=index % 3 == 0,
                    nested=index % 2 == 0,
                )
            )

        plan: list[tuple[CourseShape, str, int]] = []
        for shape in courses:
            for _ in range(rng.randint(*scale.batches_per_collection)):
                plan.append((shape, self.ids.batch(), rng.randint(*scale.enrolments_per_batch)))
        # Every course has two batches at least in the samples' course, so multi-batch cases always exist.
        plan.append((main, self.ids.batch(), rng.randint(*scale.enrolments_per_batch)))
        big_batch = self.ids.batch() if scale.big_batch_enrolments else None
        pool_size = max(size for _, _, size in plan) * 3 + scale.spare_users
        user_count = max(pool_size, scale.big_batch_enrolments)
        user_ids, users = self.users(user_count)

        enrolment_parts: list[pa.Table] = []
        consent_rows: list[dict[str, Any]] = []
        attempt_rows: list[dict[str, Any]] = []
        batch_rows: list[dict[str, Any]] = []
        members_of: dict[str, list[str]] = {}
        if big_batch is not None:
            plan.append((main, big_batch, scale.big_batch_enrolments))
        for shape, batch_id, size in plan:
            if batch_id == big_batch:
                members = user_ids[:size]
            else:
                # Users of small batches come from the start of the pool, so they overlap other batches.
                members = rng.sample(user_ids[:pool_size], min(size, pool_size))
            members_of[batch_id] = members
            start = self.today - dt.timedelta(days=rng.randint(30, 200))
            batch_rows.append(
                {
                    "batch_id": batch_id,
                    "collection_id": shape.row["collection_id"],
                    "name": f"Batch {len(batch_rows) + 1}: {shape.row['name'][:20]}",
                    "enrolment_type": "open" if rng.random() < 0.8 else "invite-only",
                    "start_date": start,
                    "end_date": start + dt.timedelta(days=180) if rng.random() < 0.7 else None,
                    "created_by": f"mentor-{rng.randrange(MENTOR_POOL)}",
                    "mentors": batch_mentors(self.seed, batch_id),
                }
            )
            enrolment_parts.append(self.enrolments(shape, batch_id, members))
            share = scale.attempt_share if batch_id != big_batch else min(scale.attempt_share, 0.1)
            attempt_rows.extend(self.attempts(shape, batch_id, members, share))
        consented = set()
        for shape, _batch_id, _ in plan:
            if shape.row["requires_consent"] and shape.row["collection_id"] not in consented:
                consented.add(shape.row["collection_id"])
                members = sorted({user for b in plan if b[0] is shape for user in members_of[b[1]]})
                consent_rows.extend(self.consents(shape, members))

        extras = LakeExtras(self, user_ids[:pool_size], users)
        expired_batch = extras.expired_batch(courses, batch_rows, enrolment_parts)
        lake.write("collections", pa.Table.from_pylist([shape.row for shape in courses], schema=schemas.COLLECTIONS))
        lake.write("batches", pa.Table.from_pylist(batch_rows, schema=schemas.BATCHES))
        lake.write("users", users)
        lake.write("enrolments", pa.concat_tables(enrolment_parts))
        lake.write("consents", pa.Table.from_pylist(consent_rows, schema=schemas.CONSENTS))
        lake.write("assessment_attempts", pa.Table.from_pylist(attempt_rows, schema=schemas.ASSESSMENT_ATTEMPTS))
        extras.write(lake, plan, members_of)
        index_lake(lake)
        if scale.bulk_answers:
            from exhaust_devkit.lake.answers_scale import AnswersVolume

            volume = AnswersVolume(self, TELEMETRY_DAYS)
            lake.write("telemetry", volume.telemetry())
            lake.write("observations", volume.observations())
        else:
            lake.write("telemetry", self.telemetry())
            lake.write("observations", self.observations())

        main_batches = [batch_id for shape, batch_id, _ in plan if shape is main and batch_id != big_batch]
        retired_batch = next(batch_id for shape, batch_id, _ in plan if shape is retired)
        return {
            "collectionId": main.row["collection_id"],
            "progressBatchId": big_batch or main_batches[0],
            "userinfoBatchId": main_batches[0],
            "responseBatchId": main_batches[-1],
            "retiredBatchId": retired_batch,
            "expiredBatchId": expired_batch,
            "partnerId": self.partner_id,
            "resourceId": resource_id_of(self.partner_id),
            "channel": self.channel,
        }


# Tables and rows added for issue 16, drawn from a random stream of their own so that the rows above stay the same
# for a given seed: an expired batch, org-level consents, user identifiers and registration consents.
EXPIRED_BATCH_START_DAYS_AGO = 600
BATCH_DAYS = 180
# ftb (free text) answers may hold what a user typed about themselves; `registration` questions collect it.
QUESTION_TYPES_NEEDING_CONSENT = ("ftb", "registration")
ORG_CONSENT_VALID_DAYS = 365


class LakeExtras:
    def __init__(self, generator: Generator, pool: list[str], users: pa.Table):
        self.generator = generator
        self.rng = random.Random(f"{generator.seed}:issue-16")
        self.ids = Ids(self.rng)
        self.ids.seen = generator.ids.seen
        self.pool = pool
        self.users = users

    def expired_batch(
        self, courses: list[CourseShape], batch_rows: list[dict[str, Any]], enrolment_parts: list[pa.Table]
    ) -> str:
        """A course whose only batch ended long ago (`Requested batch not found/Batch has expired`)."""
        generator = self.generator
        side = Generator(generator.scale_name, self.rng.getrandbits(32), generator.channel, generator.today, "")
        side.ids = self.ids
        shape = side.course("Archived: 2024 Induction", channel=generator.channel, requires_consent=True)
        courses.append(shape)
        batch_id = self.ids.batch()
        start = generator.today - dt.timedelta(days=EXPIRED_BATCH_START_DAYS_AGO)
        batch_rows.append(
            {
                "batch_id": batch_id,
                "collection_id": shape.row["collection_id"],
                "name": "Batch 2024: Induction",
                "enrolment_type": "open",
                "start_date": start,
                "end_date": start + dt.timedelta(days=BATCH_DAYS),
                "created_by": "mentor-0",
                "mentors": batch_mentors(generator.seed, batch_id),
            }
        )
        members = self.rng.sample(self.pool, min(8, len(self.pool)))
        enrolment_parts.append(side.enrolments(shape, batch_id, members))
        return batch_id

    def org_consents(self) -> pa.Table:
        """Every case of appendix IV for the sample channel: granted (with and without org phone and email),
        revoked, expired, renewed, another org's only, and none at all."""
        rng = self.rng
        today = self.generator.today
        channel = self.generator.channel
        rows: list[dict[str, Any]] = []

        def consent(org: str, user_id: str, status: str, days_ago: int, valid_days: int | None, contact: bool) -> None:
            given = _timestamp(today - dt.timedelta(days=days_ago), 3600 + len(rows) % 3600)
            rows.append(
                {
                    "consumer_id": org,
                    "user_id": user_id,
                    "status": status,
                    "consented_on": given,
                    "expires_on": None if valid_days is None else given.date() + dt.timedelta(days=valid_days),
                    "org_phone": f"8{len(rows) % 1000000000:09d}" if contact else None,
                    "org_email": f"{user_id[:8]}@{org}.example.org" if contact else None,
                }
            )

        for position, user_id in enumerate(self.pool):
            case = position % 7
            if case == 0:
                consent(channel, user_id, schemas.CONSENT_ACTIVE, rng.randint(3, 90), ORG_CONSENT_VALID_DAYS, True)
            elif case == 1:
                consent(channel, user_id, schemas.CONSENT_ACTIVE, rng.randint(3, 90), None, False)
            elif case == 2:
                days_ago = rng.randint(10, 90)
                consent(channel, user_id, schemas.CONSENT_ACTIVE, days_ago, None, True)
                consent(channel, user_id, schemas.CONSENT_REVOKED, days_ago - 5, None, False)
            elif case == 3:
                consent(
                    channel, user_id, schemas.CONSENT_ACTIVE, ORG_CONSENT_VALID_DAYS + 30, ORG_CONSENT_VALID_DAYS, True
                )
            elif case == 4:
                consent(OTHER_ORG, user_id, schemas.CONSENT_ACTIVE, rng.randint(3, 90), None, True)
            elif case == 5:
                days_ago = rng.randint(20, 90)
                consent(channel, user_id, schemas.CONSENT_REVOKED, days_ago, None, False)
                consent(channel, user_id, schemas.CONSENT_ACTIVE, days_ago - 10, None, True)
        return pa.Table.from_pylist(rows, schema=schemas.ORG_CONSENTS)

    def user_identifiers(self) -> pa.Table:
        """A UDISE code for every user with a school (the same for everyone of that school), external ids for some."""
        user_ids = self.users["user_id"].to_pylist()
        schools = self.users["school_id"].to_pylist()
        codes: dict[str, str] = {}
        for school in dict.fromkeys(school for school in schools if school is not None):
            digest = hashlib.sha1(school.encode()).hexdigest()  # noqa: S324 - a stable code, not security
            codes[school] = f"29{int(digest, 16) % 10**9:09d}"
        udise = [None if school is None else codes[school] for school in schools]
        external = [f"EXT-{user_id[:10].upper()}" if self.rng.random() < 0.4 else None for user_id in user_ids]
        return pa.table(
            {"user_id": user_ids, "school_udise_id": udise, "external_id": external}, schema=schemas.USER_IDENTIFIERS
        )

    @staticmethod
    def question_types() -> pa.Table:
        names = sorted({*QUESTION_TYPES, *QUESTION_TYPES_NEEDING_CONSENT})
        return pa.table(
            {
                "question_type": names,
                "requires_registration_consent": [name in QUESTION_TYPES_NEEDING_CONSENT for name in names],
            },
            schema=schemas.QUESTION_TYPES,
        )

    def registration_consents(
        self, plan: list[tuple[CourseShape, str, int]], members_of: dict[str, list[str]]
    ) -> pa.Table:
        """Per course, most of its learners: ACTIVE, ACTIVE then REVOKED, or nothing (their ftb answers stay out)."""
        rng = self.rng
        rows: list[dict[str, Any]] = []
        users_of: dict[str, set[str]] = {}
        for shape, batch_id, size in plan:
            if size <= max(SCALES[self.generator.scale_name].enrolments_per_batch):
                users_of.setdefault(shape.row["collection_id"], set()).update(members_of[batch_id])
        for collection_id, users in sorted(users_of.items()):
            for position, user_id in enumerate(sorted(users)):
                case = position % 4
                if case == 3:
                    continue
                given = _timestamp(self.generator.today - dt.timedelta(days=rng.randint(10, 120)), 7200)
                rows.append(
                    {
                        "collection_id": collection_id,
                        "user_id": user_id,
                        "status": schemas.CONSENT_ACTIVE,
                        "consented_on": given,
                    }
                )
                if case == 2:
                    rows.append(
                        {**rows[-1], "status": schemas.CONSENT_REVOKED, "consented_on": given + dt.timedelta(days=2)}
                    )
        return pa.Table.from_pylist(rows, schema=schemas.REGISTRATION_CONSENTS)

    def write(self, lake: Lake, plan: list[tuple[CourseShape, str, int]], members_of: dict[str, list[str]]) -> None:
        lake.write("org_consents", self.org_consents())
        lake.write("user_identifiers", self.user_identifiers())
        lake.write("question_types", self.question_types())
        lake.write("registration_consents", self.registration_consents(plan, members_of))


def generate(
    scale: str,
    seed: int,
    out: str | Lake,
    *,
    channel: str = "local-channel",
    today: dt.date | None = None,
    partner_id: str = DEFAULT_PARTNER_ID,
) -> dict[str, Any]:
    """Write a lake of this scale to `out` (a directory, `s3://bucket/prefix` or a Lake); answer its sample ids."""
    lake = out if isinstance(out, Lake) else Lake.open(out)
    today = today or dt.datetime.now(dt.UTC).date()
    samples = Generator(scale, seed, channel, today, partner_id).run(lake)
    # Every table ends with yesterday: the lake is complete up to today's midnight (exhaust.readiness).
    with lake.filesystem.open_output_stream(f"{lake.root}/{readiness.MARKER_NAME}") as marker:
        marker.write(readiness.marker_body(readiness.midnight_utc(today), "generator"))
    return samples
