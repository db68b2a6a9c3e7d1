"""The lake's course directory: written by the index from collections and batches, rewritten when they change."""

from __future__ import annotations

import pyarrow as pa
from exhaust.auth.directory import LakeCourseDirectory
from exhaust.lake import schemas
from exhaust.lake.directory import COURSE_DIRECTORY, directory_staleness
from exhaust.lake.materialized import index_if_stale

from tests.unit.handmade_lake import BATCHES, CHANNEL, write_handmade_lake


def test_the_index_writes_each_channels_courses_with_their_batches_creators_and_mentors(tmp_path):
    lake = write_handmade_lake(tmp_path)
    assert directory_staleness(lake) is None
    directory = LakeCourseDirectory(str(tmp_path))
    courses = {course.course_id: course for course in directory.courses(CHANNEL)}
    assert [batch.batch_id for batch in courses["C1"].batches] == ["B1", "B2"]
    assert courses["C1"].batches[0].mentors == ("mentor-2",)
    assert courses["C1"].batches[1].created_by == "mentor"
    assert courses["C1"].names("mentor-2")
    assert not courses["C2"].names("mentor-2")
    assert "C4" not in courses  # another channel's course
    assert [course.course_id for course in directory.courses("ch-b")] == ["C4"]
    assert directory.courses("no-such-channel") == []


def test_a_load_of_batches_makes_the_indexer_rewrite_the_directory(tmp_path):
    lake = write_handmade_lake(tmp_path)
    changed = [{**row, "mentors": ["new-mentor"]} if row["batch_id"] == "B3" else row for row in BATCHES]
    lake.write("batches", pa.Table.from_pylist(changed, schema=schemas.BATCHES))
    assert directory_staleness(lake) == "collections or batches changed"
    stale = index_if_stale(lake)
    assert COURSE_DIRECTORY in stale or "batch_users" in stale
    courses = {course.course_id: course for course in LakeCourseDirectory(str(tmp_path)).courses(CHANNEL)}
    assert courses["C2"].names("new-mentor")
    assert directory_staleness(lake) is None
