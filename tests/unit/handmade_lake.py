"""A tiny lake written by hand, small enough that every expected CSV row can be written out in a test.

Course C1 ("Course, \"One\"", asks for consent, leaf count 5: L1 L2 A1 A2 S1), hierarchy in order:
  U1 (trackable, leaf count 2: L1 A1) > U1A (trackable, leaf count unknown: A1); U2 (not trackable: L2 A2 S1)
  assessments A1 SelfAssess (2 questions, max 1 + 2), A2 Practice Question Set (1 question, max 2), S1 Survey
Course C2 (no consent, leaf count unknown), course C3 (Retired). Batches B1, B2 of C1; B3 of C2; B4 of C3.
Registration questions (type `registration`, in the S1 survey of batch B2) need registration consent: u1 gave it,
u5 revoked it. Org-level consents to ch-a: u1 granted (with org phone and email), u2 revoked, u3 expired on
2026-01-10, u4 only to other-org, u5 revoked then renewed (without org phone and email).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from exhaust.lake import schemas
from exhaust.lake.index_parts import DERIVED_TABLES, RUNS_DIR, retired_runs, runs_named
from exhaust.lake.materialized import index_lake
from exhaust.lake.store import Lake

CHANNEL = "ch-a"
UTC = dt.UTC


def at(day: str, time: str = "10:00:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def unit(unit_id, name, parent, depth, trackable, leaf_count, leaves):
    return {
        "unit_id": unit_id,
        "name": name,
        "parent_id": parent,
        "depth": depth,
        "trackable": trackable,
        "leaf_count": leaf_count,
        "leaf_ids": leaves,
    }


def assessment(assessment_id, name, category, unit_id):
    return {"assessment_id": assessment_id, "name": name, "category": category, "unit_id": unit_id}


COLLECTIONS = [
    {
        "collection_id": "C1",
        "name": 'Course, "One"',
        "channel": CHANNEL,
        "content_type": "Course",
        "status": "Live",
        "requires_consent": True,
        "leaf_count": 5,
        "leaf_ids": ["L1", "L2", "A1", "A2", "S1"],
        "units": [
            unit("U1", "Unit 1", "C1", 1, True, 2, ["L1", "A1"]),
            unit("U1A", "Unit 1.1", "U1", 2, True, None, ["A1"]),
            unit("U2", "Unit 2", "C1", 1, False, 3, ["L2", "A2", "S1"]),
        ],
        "assessments": [
            assessment("A1", "Quiz one", "SelfAssess", "U1A"),
            assessment("A2", "Practice", "Practice Question Set", "U2"),
            assessment("S1", "Feedback survey", "Survey", "U2"),
        ],
        "created_on": at("2026-01-01"),
    },
    {
        "collection_id": "C2",
        "name": "गणित",
        "channel": CHANNEL,
        "content_type": "Course",
        "status": "Live",
        "requires_consent": False,
        "leaf_count": None,
        "leaf_ids": ["L9"],
        "units": [],
        "assessments": [],
        "created_on": at("2026-01-01"),
    },
    {
        "collection_id": "C3",
        "name": "Old course",
        "channel": CHANNEL,
        "content_type": "Course",
        "status": "Retired",
        "requires_consent": True,
        "leaf_count": 1,
        "leaf_ids": ["L8"],
        "units": [],
        "assessments": [],
        "created_on": at("2026-01-01"),
    },
    {
        "collection_id": "C4",
        "name": "Other channel's course",
        "channel": "ch-b",
        "content_type": "Course",
        "status": "Live",
        "requires_consent": False,
        "leaf_count": 1,
        "leaf_ids": ["L7"],
        "units": [],
        "assessments": [],
        "created_on": at("2026-01-01"),
    },
]


def batch(batch_id, collection_id, name):
    return {
        "batch_id": batch_id,
        "collection_id": collection_id,
        "name": name,
        "enrolment_type": "open",
        "start_date": dt.date(2026, 8, 1),
        "end_date": None,
        "created_by": "mentor",
        "mentors": ["mentor-2"] if batch_id == "B1" else None,
    }


BATCHES = [
    batch("B1", "C1", "Batch one"),
    batch("B2", "C1", "Batch two"),
    batch("B3", "C2", "தொகுதி மூன்று"),
    batch("B4", "C3", "Retired batch"),
    batch("B5", "C4", "Other channel batch"),
]

ISSUED = {"certificate_id": "T1", "name": "Certificate", "status": "Issued", "issued_on": at("2026-09-10")}
FAILED = {"certificate_id": "T1", "name": "Certificate", "status": "Failed", "issued_on": None}


def enrolment(batch_id, user_id, collection_id, enrolled, completed=None, status=1, contents=(), certs=()):
    return {
        "batch_id": batch_id,
        "user_id": user_id,
        "collection_id": collection_id,
        "enrolled_on": enrolled,
        "completed_on": completed,
        "status": status,
        "completed_contents": list(contents),
        "certificates": list(certs),
    }


ENROLMENTS = [
    enrolment("B1", "u1", "C1", at("2026-09-01"), at("2026-09-09"), 2, ["L1", "L2", "A1", "A2", "S1"], [ISSUED]),
    enrolment("B1", "u2", "C1", at("2026-09-02", "23:30:00"), None, 1, ["L1", "A1"]),
    enrolment("B1", "u3", "C1", at("2026-09-03"), None, 1, ["L2"], [FAILED]),
    enrolment("B1", "u4", "C1", at("2026-09-04"), None, 0, []),
    enrolment("B2", "u1", "C1", at("2026-10-01"), None, 1, ["L1", "L2", "A2"]),
    enrolment("B2", "u5", "C1", at("2026-10-02"), None, 1, ["A1"]),
    enrolment("B3", "u1", "C2", at("2026-10-05"), None, 1, ["L9"]),
    enrolment("B3", "u2", "C2", at("2026-10-06"), at("2026-10-07"), 2, ["L9"]),
    enrolment("B4", "u1", "C3", at("2026-10-06"), None, 1, []),
]


def user(user_id, name, **fields):
    row = {name_: None for name_ in schemas.USERS.names}
    row.update(user_id=user_id, name=name, **fields)
    return row


USERS = [
    user(
        "u1",
        "Sharma, Priya",
        state="Karnataka",
        district="Mysuru",
        block="Block 1",
        cluster="Cluster 1",
        school_id="2900001",
        school_name='Govt. School "North", Mysuru',
        org_name="Karnataka State Education",
        board="CBSE",
        user_type="Teacher",
        user_sub_type="HM",
        declared_org="Teachers' Forum",
        email="priya@example.org",
        phone="9000000001",
        root_org_id="org-ka",
    ),
    user("u2", 'Ravi "Rocky" Kumar', state="Tamil Nadu", org_name="DIKSHA Custodian", user_type="Student"),
    user("u3", "Anil\nKumar", state="Uttar Pradesh", district="Agra", org_name="DIKSHA Custodian"),
    user("u4", "अनिल कुमार", org_name="DIKSHA Custodian"),
    user(
        "u5",
        "சுப்பிரமணியன்",
        state="தமிழ்நாடு",
        district="சென்னை",
        org_name="Tamil Nadu Samagra Shiksha",
        email="subbu@example.org",
        user_type="Teacher",
        root_org_id="org-tn",
    ),
]


def consent(user_id, consumer, status, when, collection="C1"):
    return {
        "collection_id": collection,
        "consumer_id": consumer,
        "user_id": user_id,
        "status": status,
        "consented_on": when,
    }


CONSENTS = [
    consent("u1", CHANNEL, "ACTIVE", at("2026-09-05")),
    consent("u2", CHANNEL, "ACTIVE", at("2026-09-05")),
    consent("u2", CHANNEL, "REVOKED", at("2026-09-06")),
    consent("u4", "other-org", "ACTIVE", at("2026-09-05")),
    consent("u5", CHANNEL, "REVOKED", at("2026-10-03")),
    consent("u5", CHANNEL, "ACTIVE", at("2026-10-04", "08:00:00")),
]

OPTIONS = json.dumps([{"label": "4, four", "value": 1}, {"label": "चार", "value": 2}], ensure_ascii=False)


def answer(batch_id, user_id, content_id, title, attempt_id, when, index, question_id, score, maximum, response):
    return {
        "batch_id": batch_id,
        "user_id": user_id,
        "collection_id": "C1",
        "content_id": content_id,
        "content_title": title,
        "attempt_id": attempt_id,
        "attempted_on": when,
        "question_index": index,
        "question_id": question_id,
        "question_type": "mcq",
        "question_title": f"Question {question_id}",
        "question_description": 'Say "4",\nthen submit' if index == 0 else None,
        "question_duration": 12.5,
        "question_score": score,
        "question_max_score": maximum,
        "question_options": OPTIONS,
        "question_response": json.dumps({"value": int(response)}),
    }


ATTEMPTS = [
    # u1, batch B1: two attempts at A1 (1/3, then 3/3: the best), one at A2 (1/2), one at the unscored survey.
    answer("B1", "u1", "A1", "Quiz one", "t1", at("2026-09-05", "09:15:00"), 0, "Q1", 1.0, 1.0, 1),
    answer("B1", "u1", "A1", "Quiz one", "t1", at("2026-09-05", "09:15:00"), 1, "Q2", 0.0, 2.0, 0),
    answer("B1", "u1", "A1", "Quiz one", "t2", at("2026-09-06", "09:15:00"), 0, "Q1", 1.0, 1.0, 1),
    answer("B1", "u1", "A1", "Quiz one", "t2", at("2026-09-06", "09:15:00"), 1, "Q2", 2.0, 2.0, 2),
    answer("B1", "u1", "A2", "Practice", "t3", at("2026-09-07", "09:15:00"), 0, "Q3", 1.0, 2.0, 1),
    answer("B1", "u1", "S1", "Feedback survey", "t4", at("2026-09-07", "10:00:00"), 0, "Q4", 1.0, 1.0, 1),
    # u2, batch B1: one attempt at A1, 1/3.
    answer("B1", "u2", "A1", "Quiz one", "t5", at("2026-09-08", "09:15:00"), 0, "Q1", 1.0, 1.0, 1),
    answer("B1", "u2", "A1", "Quiz one", "t5", at("2026-09-08", "09:15:00"), 1, "Q2", 0.0, 2.0, 0),
    # u1 again, batch B2 of the same course: 2/3 there, which B1's files must not show.
    answer("B2", "u1", "A1", "Quiz one", "t6", at("2026-10-02", "09:15:00"), 0, "Q1", 0.0, 1.0, 0),
    answer("B2", "u1", "A1", "Quiz one", "t6", at("2026-10-02", "09:15:00"), 1, "Q2", 2.0, 2.0, 2),
]


def registration_answer(user_id, attempt_id, when, index, question_id, question_type, response):
    row = answer("B2", user_id, "S1", "Feedback survey", attempt_id, when, index, question_id, 1.0, 1.0, 1)
    return {**row, "question_type": question_type, "question_response": response}


REGISTRATION_ATTEMPTS = [
    registration_answer("u1", "t7", at("2026-10-03", "09:15:00"), 0, "Q5", "registration", '{"district": "Mysuru"}'),
    registration_answer("u5", "t8", at("2026-10-03", "10:15:00"), 0, "Q5", "registration", '{"district": "Chennai"}'),
    registration_answer("u5", "t8", at("2026-10-03", "10:15:00"), 1, "Q6", "mcq", '{"value": 1}'),
]
QUESTION_TYPES = [
    {"question_type": "mcq", "requires_registration_consent": False},
    {"question_type": "registration", "requires_registration_consent": True},
]
REGISTRATION_CONSENTS = [
    {"collection_id": "C1", "user_id": "u1", "status": "ACTIVE", "consented_on": at("2026-10-01")},
    {"collection_id": "C1", "user_id": "u5", "status": "ACTIVE", "consented_on": at("2026-10-01")},
    {"collection_id": "C1", "user_id": "u5", "status": "REVOKED", "consented_on": at("2026-10-02")},
    {"collection_id": "C2", "user_id": "u5", "status": "ACTIVE", "consented_on": at("2026-10-01")},
]


def org_consent(user_id, org, status, when, expires_on=None, phone=None, email=None):
    return {
        "consumer_id": org,
        "user_id": user_id,
        "status": status,
        "consented_on": when,
        "expires_on": expires_on,
        "org_phone": phone,
        "org_email": email,
    }


ORG_CONSENTS = [
    org_consent("u1", CHANNEL, "ACTIVE", at("2026-09-05"), phone="8000000001", email="priya@state.example.org"),
    org_consent("u2", CHANNEL, "ACTIVE", at("2026-09-05"), phone="8000000002"),
    org_consent("u2", CHANNEL, "REVOKED", at("2026-09-07")),
    org_consent("u3", CHANNEL, "ACTIVE", at("2025-01-10"), expires_on=dt.date(2026, 1, 10), phone="8000000003"),
    org_consent("u4", "other-org", "ACTIVE", at("2026-09-05"), email="anil@other.example.org"),
    org_consent("u5", CHANNEL, "REVOKED", at("2026-10-01")),
    org_consent("u5", CHANNEL, "ACTIVE", at("2026-10-04"), expires_on=dt.date(2026, 11, 2)),
]
USER_IDENTIFIERS = [
    {"user_id": "u1", "school_udise_id": "29000010101", "external_id": "KA-TCH-0001"},
    {"user_id": "u5", "school_udise_id": None, "external_id": "TN-77"},
]


def write_handmade_lake(root) -> Lake:
    lake = Lake.open(str(root))
    lake.write("collections", pa.Table.from_pylist(COLLECTIONS, schema=schemas.COLLECTIONS))
    lake.write("batches", pa.Table.from_pylist(BATCHES, schema=schemas.BATCHES))
    lake.write("enrolments", pa.Table.from_pylist(ENROLMENTS, schema=schemas.ENROLMENTS))
    lake.write("users", pa.Table.from_pylist(USERS, schema=schemas.USERS))
    lake.write("consents", pa.Table.from_pylist(CONSENTS, schema=schemas.CONSENTS))
    attempts = ATTEMPTS + REGISTRATION_ATTEMPTS
    lake.write("assessment_attempts", pa.Table.from_pylist(attempts, schema=schemas.ASSESSMENT_ATTEMPTS))
    lake.write("question_types", pa.Table.from_pylist(QUESTION_TYPES, schema=schemas.QUESTION_TYPES))
    registration = pa.Table.from_pylist(REGISTRATION_CONSENTS, schema=schemas.REGISTRATION_CONSENTS)
    lake.write("registration_consents", registration)
    lake.write("org_consents", pa.Table.from_pylist(ORG_CONSENTS, schema=schemas.ORG_CONSENTS))
    lake.write("user_identifiers", pa.Table.from_pylist(USER_IDENTIFIERS, schema=schemas.USER_IDENTIFIERS))
    index_lake(lake)
    return lake


def derived_bytes(root) -> dict[str, bytes]:
    """The bytes of each derived table's published parts, by table and part name (the run folder differs between
    two indexes of one lake)."""
    lake = Lake.open(str(root))
    found = {}
    for table in DERIVED_TABLES:
        for path, _ in lake.files(table):
            with lake.filesystem.open_input_stream(path) as source:
                found[f"{table}/{path.rsplit('/', 1)[-1]}"] = source.read()
    return found


def unpublished_runs(root) -> list[str]:
    """Run folders of the derived tables that no pointer names (as current or retired): what a failed index would
    leave behind."""
    lake = Lake.open(str(root))
    left = []
    for table in DERIVED_TABLES:
        pointer = lake.current_files(table)
        named = (
            set()
            if pointer is None
            else runs_named(pointer).union(*(retired_runs(entry) for entry in pointer["retired"]))
        )
        runs = Path(lake.table_dir(table)) / RUNS_DIR
        left += [f"{table}/{run.name}" for run in (runs.iterdir() if runs.exists() else ()) if run.name not in named]
    return left
