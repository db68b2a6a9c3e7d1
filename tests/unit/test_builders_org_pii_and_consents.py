"""Golden tests of issue 16 on the hand-made lake: org-pii-exhaust and the registration-consent rule of responses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.builders.errors import NoDataFound
from exhaust.lake import schemas
from exhaust.lake.store import Lake

from tests.unit.handmade_lake import CHANNEL, OPTIONS, at, consent, write_handmade_lake
from tests.unit.test_builders_golden import DAY, PASSWORD, build

ORG_PII_HEADER = [
    "Name", "User UUID", "State", "District", "Block", "Cluster", "School Name", "School UDISE ID", "External ID",
    "Profile Email", "Profile Phone number", "Org Phone", "Org Email ID", "Usertype", "Usersubtype",
    "Root Org of the user",
]  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return write_handmade_lake(tmp_path_factory.mktemp("handmade"))


def test_org_pii_lists_granted_consents_with_the_org_contact_given_with_them(lake, tmp_path):
    name, rows = build(lake, tmp_path, "org-pii-exhaust", CHANNEL)
    assert name == "ch-a_org-pii_20261102.csv"
    assert rows == [
        ORG_PII_HEADER,
        [
            "Sharma, Priya", "u1", "Karnataka", "Mysuru", "Block 1", "Cluster 1", 'Govt. School "North", Mysuru',
            "29000010101", "KA-TCH-0001", "priya@example.org", "9000000001", "8000000001",
            "priya@state.example.org", "Teacher", "HM", "org-ka",
        ],
        # Revoked, then renewed without an org phone or email: listed, with those cells empty.
        [
            "சுப்பிரமணியன்", "u5", "தமிழ்நாடு", "சென்னை", "", "", "", "", "TN-77", "subbu@example.org", "", "", "",
            "Teacher", "", "org-tn",
        ],
    ]  # fmt: skip
    # u2 revoked, u3's consent expired on 2026-01-10, u4 consented to another org only.


def test_org_pii_for_another_org_sees_only_that_orgs_consents(lake, tmp_path):
    _, rows = build(lake, tmp_path, "org-pii-exhaust", "other-org", channel="other-org")
    assert [(row[0], row[1], row[12]) for row in rows[1:]] == [("अनिल कुमार", "u4", "anil@other.example.org")]


def test_a_consent_is_valid_through_its_expiry_day_and_not_after(lake, tmp_path):
    day_after = DAY + dt.timedelta(days=1)
    path = tmp_path / "later.zip"
    summary = build_batch_zip(BatchBuild("org-pii-exhaust", CHANNEL, CHANNEL, PASSWORD, lake, day_after), path)
    assert summary.rows == 1  # u5's consent expired on DAY: only u1 is left


def test_org_pii_of_an_org_without_consents_is_no_data_found(lake, tmp_path):
    with pytest.raises(NoDataFound):
        build_batch_zip(BatchBuild("org-pii-exhaust", "ch-z", "ch-z", PASSWORD, lake, DAY), tmp_path / "none.zip")
    assert not (tmp_path / "none.zip").exists()


def test_registration_responses_are_empty_without_the_users_registration_consent(lake, tmp_path):
    _, rows = build(lake, tmp_path, "response-exhaust", "B2")
    prefix = ["C1", 'Course, "One"', "B2", "Batch two"]
    survey = 'Say "4",\nthen submit'
    assert [row for row in rows[1:] if row[7] in {"t7", "t8"}] == [
        [*prefix, "u1", "S1", "Feedback survey", "t7", "03/10/2026 09:15:00", "Q5", "registration", "Question Q5",
         survey, "12.5", "1", "1", OPTIONS, '{"district": "Mysuru"}'],
        # u5 revoked the course's registration consent (an ACTIVE one for C2 does not count here).
        [*prefix, "u5", "S1", "Feedback survey", "t8", "03/10/2026 10:15:00", "Q5", "registration", "Question Q5",
         survey, "12.5", "1", "1", OPTIONS, ""],
        # A question type that needs no consent keeps its response.
        [*prefix, "u5", "S1", "Feedback survey", "t8", "03/10/2026 10:15:00", "Q6", "mcq", "Question Q6", "",
         "12.5", "1", "1", OPTIONS, '{"value": 1}'],
    ]  # fmt: skip
    assert {row[7] for row in rows[1:]} == {"t6", "t7", "t8"}


def test_a_revocation_appended_in_a_later_file_of_the_consents_table_counts(tmp_path: Path) -> None:
    lake = write_handmade_lake(tmp_path / "lake")
    # A loader that appends each day's consent events as a new file: this one revokes u1 and renews u5's consent.
    later = [consent("u1", CHANNEL, "REVOKED", at("2026-10-20")), consent("u5", CHANNEL, "ACTIVE", at("2026-10-21"))]
    pq.write_table(
        pa.Table.from_pylist(later, schema=schemas.CONSENTS), lake.table_dir("consents") + "/part-00001.parquet"
    )
    _, rows = build(Lake.open(lake.root), tmp_path, "userinfo-exhaust", "B2")
    assert [(row[4], row[12]) for row in rows[1:]] == [("u5", "21/10/2026")]
