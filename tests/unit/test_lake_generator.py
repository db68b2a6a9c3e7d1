"""The synthetic lake: deterministic, and its sample ids point at the cases they promise."""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow.compute as pc
import pytest
from exhaust.lake.catalog import Catalog
from exhaust.lake.schemas import TABLES
from exhaust.lake.store import Lake
from exhaust_devkit.lake.generator import generate

TODAY = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tiny"))
    samples = generate("tiny", 11, root, channel="state-ka", today=TODAY)
    return Lake.open(root), samples


def test_same_seed_same_lake_other_seed_other_lake(tiny, tmp_path):
    lake, samples = tiny
    again = generate("tiny", 11, str(tmp_path / "again"), channel="state-ka", today=TODAY)
    other = generate("tiny", 12, str(tmp_path / "other"), channel="state-ka", today=TODAY)
    assert again == samples
    for table in TABLES:
        assert Lake.open(str(tmp_path / "again")).read(table).equals(lake.read(table)), table
    assert other["collectionId"] != samples["collectionId"]


def test_sample_batches_are_what_they_say(tiny):
    lake, samples = tiny
    catalog = Catalog(lake)
    progress = catalog.batch(samples["progressBatchId"])
    assert progress is not None
    assert progress.collection_id == samples["collectionId"]
    assert progress.channel == "state-ka" == samples["channel"]
    assert progress.collection.trackable_units
    assert len(progress.collection.assessments) >= 2
    retired = catalog.batch(samples["retiredBatchId"])
    assert retired is not None
    assert retired.retired

    userinfo = catalog.batch(samples["userinfoBatchId"])
    assert userinfo is not None
    assert userinfo.requires_consent
    assert not userinfo.retired
    consents = lake.read("consents", equals={"collection_id": userinfo.collection_id, "consumer_id": "state-ka"})
    assert {"ACTIVE", "REVOKED"} <= set(consents["status"].to_pylist())

    attempts = lake.read("assessment_attempts", ["batch_id"], equals={"batch_id": samples["responseBatchId"]})
    assert attempts.num_rows > 0
    assert samples["resourceId"] == hashlib.sha1(samples["partnerId"].encode()).hexdigest()


def test_lake_has_the_awkward_shapes_builders_must_handle(tiny):
    lake, _ = tiny
    collections = lake.read("collections")
    assert "Retired" in collections["status"].to_pylist()
    assert None in collections["leaf_count"].to_pylist()
    names = lake.read("users", ["name"])["name"].to_pylist()
    assert any("," in name for name in names)
    assert any('"' in name for name in names)
    assert any("\n" in name for name in names)
    assert any("\u0900" <= char <= "\u097f" for name in names for char in name), "Hindi"
    assert any("\u0b80" <= char <= "\u0bff" for name in names for char in name), "Tamil"
    users = lake.read("users")
    assert users["email"].null_count > 0
    assert users["district"].null_count > 0
    categories = {item["category"] for row in collections["assessments"].to_pylist() for item in row or []}
    assert {"SelfAssess", "Practice Question Set", "Survey"} <= categories


def test_telemetry_and_observations_cover_the_last_sixty_days(tiny):
    lake, samples = tiny
    telemetry = lake.read("telemetry", equals={"partner_id": samples["partnerId"]})
    days = set(telemetry["event_date"].to_pylist())
    assert min(days) == TODAY - dt.timedelta(days=60)
    assert max(days) == TODAY - dt.timedelta(days=1)
    assert len(days) == 60
    assert set(telemetry["channel"].to_pylist()) == {"state-ka"}
    observations = lake.read("observations")
    assert len(set(observations["producer_type"].to_pylist())) >= 3
    assert len(set(observations["unit"].to_pylist())) >= 3
    first = pc.min(observations["observed_at"]).as_py().date()
    assert first == TODAY - dt.timedelta(days=60)


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scale"):
        generate("huge", 1, str(tmp_path))


def test_batches_name_their_creator_and_mentors_deterministically(tiny, tmp_path):
    from exhaust.auth.directory import LakeCourseDirectory

    lake, _samples = tiny
    rows = lake.read("batches").to_pylist()
    assert all(row["created_by"] and row["created_by"].startswith("mentor-") for row in rows)
    with_mentors = [row["mentors"] for row in rows if row["mentors"]]
    assert with_mentors, "some batches have mentors"
    assert any(row["mentors"] is None for row in rows) or len(rows) < 5
    assert all(1 <= len(mentors) <= 3 and all(m.startswith("mentor-") for m in mentors) for mentors in with_mentors)
    # The lake's course directory (written by the index) says the same, and gives mentor-0 a course (local mode's
    # mentor token relies on it).
    channels = {row["channel"] for row in lake.read("collections", ["channel"]).to_pylist()}
    assert "state-ka" in channels
    directory = LakeCourseDirectory(lake.root)
    courses = [course for channel in sorted(channels) for course in directory.courses(channel)]
    listed = {batch.batch_id: batch for course in courses for batch in course.batches}
    assert {row["batch_id"]: (row["created_by"], tuple(row["mentors"] or ())) for row in rows} == {
        batch_id: (batch.created_by, batch.mentors) for batch_id, batch in listed.items()
    }
    assert any(course.names("mentor-0") for course in directory.courses("state-ka"))
