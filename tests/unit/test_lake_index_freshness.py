"""The batch_users extract records the files it was derived from; a builder refuses one derived from other files.

Before: reloading attempts (or users) without `exhaust lake index` left stale best attempts (or profiles) that
no build noticed. Consents are not part of the extract: a revocation counts at the next build, index or not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake import schemas
from exhaust.lake.extracts import BATCH_USERS, LakeNotIndexed, staleness
from exhaust.lake.materialized import write_batch_users
from exhaust.lake.store import Lake
from exhaust_devkit.lake.seed import refresh_kept_index

from tests.unit.handmade_lake import CHANNEL, CONSENTS, at, consent, write_handmade_lake
from tests.unit.test_builders_golden import DAY, PASSWORD, build

TOTAL_SCORE = 20  # the Total Score column of progress-exhaust


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(write_handmade_lake(tmp_path / "lake").root)


def build_progress(root: str, tmp_path: Path) -> list[list[str]]:
    _, rows = build(Lake.open(root), tmp_path, "progress-exhaust", "B1")
    return rows


def test_attempts_reloaded_without_indexing_are_refused_then_counted_once_indexed(root: str, tmp_path: Path) -> None:
    before = build_progress(root, tmp_path)[1:]
    assert any(row[TOTAL_SCORE] for row in before)
    lake = Lake.open(root)
    attempts = lake.read("assessment_attempts")
    lake.write("assessment_attempts", attempts.filter(pc.not_equal(attempts["batch_id"], "B1")))

    with pytest.raises(LakeNotIndexed, match=r"other files of assessment_attempts .*exhaust lake index"):
        build_progress(root, tmp_path)
    write_batch_users(Lake.open(root))
    assert [row[TOTAL_SCORE] for row in build_progress(root, tmp_path)[1:]] == [""] * len(before)


def renamed(table: pa.Table, column: str) -> pa.Table:
    """The same rows with the first row's `column` changed (a reload that corrected one value)."""
    values = table[column].to_pylist()
    values[0] = f"{values[0]} (corrected)"
    return table.set_column(table.schema.get_field_index(column), table.schema.field(column), pa.array(values))


@pytest.mark.parametrize(
    ("table", "column"),
    [("users", "state"), ("enrolments", "user_id"), ("collections", "name"), ("batches", "name")],
)
def test_any_source_table_reloaded_with_a_change_makes_the_extract_stale_for_progress_and_userinfo(
    root: str, tmp_path: Path, table: str, column: str
) -> None:
    lake = Lake.open(root)
    lake.write(table, renamed(lake.read(table), column))
    for dataset, batch_id in (("progress-exhaust", "B1"), ("userinfo-exhaust", "B2")):
        with pytest.raises(LakeNotIndexed, match=f"other files of {table} "):
            build_batch_zip(BatchBuild(dataset, batch_id, CHANNEL, PASSWORD, root, DAY), tmp_path / "stale.zip")
        assert not (tmp_path / "stale.zip").exists()


def test_a_copy_of_the_same_files_is_fresh_though_their_times_changed(root: str, tmp_path: Path) -> None:
    # A restore (local mode's restart puts every object again): new modification times, the same bytes.
    before = build_progress(root, tmp_path)
    lake = Lake.open(root)
    for table in ("users", "enrolments", "assessment_attempts"):
        for info in lake.filesystem.get_file_info(pa.fs.FileSelector(lake.table_dir(table))):
            os.utime(info.path, ns=(info.mtime_ns + 10**9, info.mtime_ns + 10**9))
    assert build_progress(root, tmp_path) == before


def test_a_missing_extract_or_one_without_its_sources_is_refused(root: str, tmp_path: Path) -> None:
    lake = Lake.open(root)
    extract = lake.read(BATCH_USERS)
    lake.write(BATCH_USERS, extract)  # written without the record of its sources, as an older version did
    with pytest.raises(LakeNotIndexed, match="does not record the files it was derived from"):
        build_progress(root, tmp_path)
    lake.filesystem.delete_dir(lake.table_dir(BATCH_USERS))
    with pytest.raises(LakeNotIndexed, match="is missing"):
        build_progress(root, tmp_path)


def test_a_revocation_counts_at_the_next_build_without_indexing(root: str, tmp_path: Path) -> None:
    _, before = build(Lake.open(root), tmp_path, "userinfo-exhaust", "B2")
    assert [row[4] for row in before[1:]] == ["u1", "u5"]
    revoked = [*CONSENTS, consent("u1", CHANNEL, "REVOKED", at("2026-10-30"))]
    Lake.open(root).write("consents", pa.Table.from_pylist(revoked, schema=schemas.CONSENTS))
    _, after = build(Lake.open(root), tmp_path, "userinfo-exhaust", "B2")
    assert [row[4] for row in after[1:]] == ["u5"]


def test_local_mode_re_indexes_a_kept_lake_whose_extract_is_stale_and_leaves_a_fresh_one(
    root: str, tmp_path: Path
) -> None:
    """A state kept from an earlier release (or a table reloaded by hand) builds again after a restart."""
    assert refresh_kept_index(root) is False
    lake = Lake.open(root)
    lake.write("users", renamed(lake.read("users"), "state"))
    with pytest.raises(LakeNotIndexed):
        build_progress(root, tmp_path)

    assert refresh_kept_index(root) is True
    assert build_progress(root, tmp_path)[1:]
    assert refresh_kept_index(root) is False


def test_staleness_reads_the_pointer_and_the_listings_not_the_derived_tables_footers(root: str) -> None:
    # The indexer's look step runs it on every schedule: a derived table's footers (a row group per batch, megabytes
    # at platform scale) are not what freshness needs. A part whose bytes are not Parquet shows that none is read.
    lake = Lake.open(root)
    for path, _ in lake.files(BATCH_USERS):
        size = os.path.getsize(path)
        Path(path).write_bytes(b"\0" * size)
    fresh = Lake.open(root)
    assert staleness(fresh, BATCH_USERS) is None
    assert fresh.pointer(BATCH_USERS) is not None
