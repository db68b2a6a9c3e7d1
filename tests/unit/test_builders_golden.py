"""Golden tests: the hand-made lake (tests/unit/handmade_lake.py) and every expected CSV row written by hand."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io

import pytest
import pyzipper
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.builders.errors import ConsentNotRequested, NoDataFound, RetiredCollection

from tests.unit.handmade_lake import CHANNEL, OPTIONS, write_handmade_lake

DAY = dt.date(2026, 11, 2)
PASSWORD = "uKW)Afn9D5"
COURSE = 'Course, "One"'
SAY_FOUR = 'Say "4",\nthen submit'  # a quote, a comma and a newline in one field
PROGRESS_STATIC = [
    "Collection Id",
    "Collection Name",
    "Batch Id",
    "Batch Name",
    "User UUID",
    "State",
    "District",
    "Org Name",
    "School Id",
    "School Name",
    "Block Name",
    "Declared Board",
    "Cluster",
    "Usertype",
    "Usersubtype",
    "Declared Org",
    "Enrolment Date",
    "Completion Date",
    "Progress",
    "Certificate Status",
    "Total Score",
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return write_handmade_lake(tmp_path_factory.mktemp("handmade"))


def build(lake, tmp_path, dataset, batch_id, channel=CHANNEL):
    path = tmp_path / f"{dataset}-{batch_id}.zip"
    summary = build_batch_zip(BatchBuild(dataset, batch_id, channel, PASSWORD, lake, DAY), path)
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(PASSWORD.encode())
        (name,) = archive.namelist()
        text = archive.read(name).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert summary.rows == len(rows) - 1
    return name, rows


def test_progress_nested_units_best_attempts_and_missing_leaf_counts(lake, tmp_path):
    name, rows = build(lake, tmp_path, "progress-exhaust", "B1")
    assert name == "B1_progress_20261102.csv"
    assert rows[0] == [*PROGRESS_STATIC, "U1 - Progress", "U1A - Progress", "A1 - Score", "A2 - Score"]
    assert rows[1:] == [
        [
            "C1", COURSE, "B1", "Batch one", "u1", "Karnataka", "Mysuru", "Karnataka State Education", "2900001",
            'Govt. School "North", Mysuru', "Block 1", "CBSE", "Cluster 1", "Teacher", "HM", "Teachers' Forum",
            "01/09/2026", "09/09/2026", "100", "Issued", "80%", "100", "", "100%", "50%",
        ],
        [
            "C1", COURSE, "B1", "Batch one", "u2", "Tamil Nadu", "", "DIKSHA Custodian", "", "", "", "", "",
            "Student", "", "", "02/09/2026", "", "40", "", "34%", "100", "", "34%", "",
        ],
        [
            "C1", COURSE, "B1", "Batch one", "u3", "Uttar Pradesh", "Agra", "DIKSHA Custodian", "", "", "", "",
            "", "", "", "", "03/09/2026", "", "20", "Failed", "", "0", "", "", "",
        ],
        [
            "C1", COURSE, "B1", "Batch one", "u4", "", "", "DIKSHA Custodian", "", "", "", "", "", "", "", "",
            "04/09/2026", "", "0", "", "", "0", "", "", "",
        ],
    ]  # fmt: skip


def test_progress_of_another_batch_of_the_same_course_uses_only_its_own_attempts(lake, tmp_path):
    _, rows = build(lake, tmp_path, "progress-exhaust", "B2")
    assert rows[1:] == [
        [
            "C1", COURSE, "B2", "Batch two", "u1", "Karnataka", "Mysuru", "Karnataka State Education", "2900001",
            'Govt. School "North", Mysuru', "Block 1", "CBSE", "Cluster 1", "Teacher", "HM", "Teachers' Forum",
            "01/10/2026", "", "60", "", "67%", "50", "", "67%", "",
        ],
        [
            "C1", COURSE, "B2", "Batch two", "u5", "தமிழ்நாடு", "சென்னை", "Tamil Nadu Samagra Shiksha", "", "",
            "", "", "", "Teacher", "", "", "02/10/2026", "", "20", "", "", "50", "", "", "",
        ],
    ]  # fmt: skip


def test_progress_is_empty_when_the_leaf_count_is_unknown_unless_completed(lake, tmp_path):
    _, rows = build(lake, tmp_path, "progress-exhaust", "B3")
    assert rows[0] == PROGRESS_STATIC
    assert [(row[4], row[18]) for row in rows[1:]] == [("u1", ""), ("u2", "100")]
    assert rows[1][1] == "गणित"
    assert rows[1][3] == "தொகுதி மூன்று"


def test_userinfo_lists_only_active_consents_for_the_requesting_org(lake, tmp_path):
    name, rows = build(lake, tmp_path, "userinfo-exhaust", "B1")
    assert name == "B1_userinfo_20261102.csv"
    assert rows == [
        [
            "Collection Id", "Collection Name", "Batch Id", "Batch Name", "User UUID", "User Name", "State",
            "District", "Org Name", "Mobile number", "Email ID", "Consent Provided", "Consent Provided Date",
            "Block Name", "Cluster", "Usertype", "Usersubtype", "School Id", "School Name",
        ],
        [
            "C1", COURSE, "B1", "Batch one", "u1", "Sharma, Priya", "Karnataka", "Mysuru",
            "Karnataka State Education", "9000000001", "priya@example.org", "Yes", "05/09/2026", "Block 1",
            "Cluster 1", "Teacher", "HM", "2900001", 'Govt. School "North", Mysuru',
        ],
    ]  # fmt: skip


def test_userinfo_takes_the_latest_consent_so_a_renewed_consent_counts(lake, tmp_path):
    _, rows = build(lake, tmp_path, "userinfo-exhaust", "B2")
    assert [row[4] for row in rows[1:]] == ["u1", "u5"]
    assert rows[2] == [
        "C1", COURSE, "B2", "Batch two", "u5", "சுப்பிரமணியன்", "தமிழ்நாடு", "சென்னை",
        "Tamil Nadu Samagra Shiksha", "", "subbu@example.org", "Yes", "04/10/2026", "", "", "Teacher", "", "", "",
    ]  # fmt: skip


def test_userinfo_for_another_org_sees_only_that_orgs_consents(lake, tmp_path):
    _, rows = build(lake, tmp_path, "userinfo-exhaust", "B1", channel="other-org")
    assert [(row[4], row[5]) for row in rows[1:]] == [("u4", "अनिल कुमार")]


def test_response_has_one_row_per_question_of_the_batchs_own_attempts(lake, tmp_path):
    name, rows = build(lake, tmp_path, "response-exhaust", "B1")
    assert name == "B1_response_20261102.csv"
    assert rows[0] == [
        "Collection Id", "Collection Name", "Batch Id", "Batch Name", "User UUID", "QuestionSet Id",
        "QuestionSet Title", "Attempt Id", "Attempted On", "Question Id", "Question Type", "Question Title",
        "Question Description", "Question Duration", "Question Score", "Question Max Score", "Question Options",
        "Question Response",
    ]  # fmt: skip
    prefix = ["C1", COURSE, "B1", "Batch one"]
    assert rows[1:] == [
        [*prefix, "u1", "A1", "Quiz one", "t1", "05/09/2026 09:15:00", "Q1", "mcq", "Question Q1", SAY_FOUR,
         "12.5", "1", "1", OPTIONS, '{"value": 1}'],
        [*prefix, "u1", "A1", "Quiz one", "t1", "05/09/2026 09:15:00", "Q2", "mcq", "Question Q2", "",
         "12.5", "0", "2", OPTIONS, '{"value": 0}'],
        [*prefix, "u1", "A1", "Quiz one", "t2", "06/09/2026 09:15:00", "Q1", "mcq", "Question Q1", SAY_FOUR,
         "12.5", "1", "1", OPTIONS, '{"value": 1}'],
        [*prefix, "u1", "A1", "Quiz one", "t2", "06/09/2026 09:15:00", "Q2", "mcq", "Question Q2", "",
         "12.5", "2", "2", OPTIONS, '{"value": 2}'],
        [*prefix, "u1", "A2", "Practice", "t3", "07/09/2026 09:15:00", "Q3", "mcq", "Question Q3", SAY_FOUR,
         "12.5", "1", "2", OPTIONS, '{"value": 1}'],
        [*prefix, "u1", "S1", "Feedback survey", "t4", "07/09/2026 10:00:00", "Q4", "mcq", "Question Q4",
         SAY_FOUR, "12.5", "1", "1", OPTIONS, '{"value": 1}'],
        [*prefix, "u2", "A1", "Quiz one", "t5", "08/09/2026 09:15:00", "Q1", "mcq", "Question Q1", SAY_FOUR,
         "12.5", "1", "1", OPTIONS, '{"value": 1}'],
        [*prefix, "u2", "A1", "Quiz one", "t5", "08/09/2026 09:15:00", "Q2", "mcq", "Question Q2", "",
         "12.5", "0", "2", OPTIONS, '{"value": 0}'],
    ]  # fmt: skip
    assert "t6" not in {row[7] for row in rows[1:]}


@pytest.mark.parametrize(
    ("dataset", "batch_id", "error", "message"),
    [
        ("progress-exhaust", "no-such-batch", NoDataFound, "No data found"),
        ("progress-exhaust", "B4", RetiredCollection, "The request is made for retired collection"),
        ("userinfo-exhaust", "B4", RetiredCollection, "The request is made for retired collection"),
        (
            "userinfo-exhaust",
            "B3",
            ConsentNotRequested,
            "Invalid request. User info exhaust is not applicable for collections which don't request for user "
            "consent to share data",
        ),
        ("response-exhaust", "B3", NoDataFound, "No data found"),
        ("progress-exhaust", "B5", NoDataFound, "No data found"),
    ],
)
def test_permanent_failures_carry_the_message_users_see(lake, tmp_path, dataset, batch_id, error, message):
    with pytest.raises(error) as raised:
        build_batch_zip(BatchBuild(dataset, batch_id, CHANNEL, PASSWORD, lake, DAY), tmp_path / "out.zip")
    assert raised.value.message == message
    assert raised.value.permanent
    assert not (tmp_path / "out.zip").exists()


def test_chunked_build_writes_the_same_bytes_as_one_chunk(lake, tmp_path):
    _, whole = build(lake, tmp_path, "progress-exhaust", "B1")
    path = tmp_path / "chunked.zip"
    reported: list[int] = []
    build_batch_zip(
        BatchBuild("progress-exhaust", "B1", CHANNEL, PASSWORD, lake, DAY), path, chunk_rows=1, on_rows=reported.append
    )
    assert reported == [1, 2, 3, 4]
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(PASSWORD.encode())
        chunked = list(csv.reader(io.StringIO(archive.read(archive.namelist()[0]).decode(), newline="")))
    assert chunked == whole


def test_an_opted_in_byte_order_mark_starts_the_csv_and_changes_nothing_else(lake, tmp_path):
    def csv_bytes(path, csv_bom: bool) -> bytes:
        build_batch_zip(BatchBuild("progress-exhaust", "B1", CHANNEL, PASSWORD, lake, DAY, csv_bom=csv_bom), path)
        with pyzipper.AESZipFile(path) as archive:
            archive.setpassword(PASSWORD.encode())
            return archive.read(archive.namelist()[0])

    plain = csv_bytes(tmp_path / "plain.zip", csv_bom=False)
    marked = csv_bytes(tmp_path / "marked.zip", csv_bom=True)
    assert not plain.startswith(codecs.BOM_UTF8)  # the seeds' format by default
    assert marked == codecs.BOM_UTF8 + plain
