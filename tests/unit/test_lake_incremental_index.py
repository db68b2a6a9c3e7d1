"""Incremental index runs (docs/lake.md, "Incremental runs"): a load of enrolments, users or attempts re-indexes
only the batches it touched, and every batch then reads the bytes a full index writes."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pyzipper
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake import index_parts, index_state, materialized
from exhaust.lake.index_parts import DERIVED_TABLES
from exhaust.lake.materialized import REINDEXED_BATCHES, index_lake, stale_derived_tables
from exhaust.lake.store import OVERLAY, Lake
from exhaust_devkit.lake.check import check_lake
from exhaust_devkit.lake.loads import batch_row_group_digests, touch_batches
from exhaust_devkit.lake.platform_generator import generate_platform

from tests.unit.handmade_lake import (
    derived_bytes,
    unpublished_runs,
    write_handmade_lake,
)

ENROLMENTS = 40_000
PASSWORD = "Incremental-Index-1"
DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("platform") / "lake"
    generate_platform(ENROLMENTS, 3, str(root))
    index_lake(Lake.open(str(root)))
    return root


@pytest.fixture
def lake_root(indexed: Path, tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    shutil.copytree(indexed, root)
    return root


def full_index_of(root: Path, tmp_path: Path) -> Path:
    """A copy of the lake as it is now, indexed in full: what the incremental run must equal."""
    copy = tmp_path / "full"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy)
    index_lake(Lake.open(str(copy)), full=True)
    return copy


def csv_of(root: Path, tmp_path: Path, dataset: str, batch_id: str) -> tuple[str, bytes]:
    path = tmp_path / f"{root.name}-{dataset}-{batch_id}.zip"
    summary = build_batch_zip(BatchBuild(dataset, batch_id, "local-channel", PASSWORD, Lake.open(str(root)), DAY), path)
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(PASSWORD.encode())
        (name,) = archive.namelist()
        return summary.rows_from, archive.read(name)


def batch_row_groups(root: Path) -> dict[str, dict[str, list[str]]]:
    return batch_row_group_digests(Lake.open(str(root)))


def pointer_of(root: Path) -> Mapping[str, Any]:
    found = Lake.open(str(root)).pointer("batch_users")
    assert found is not None
    return found


def overlay_of(root: Path) -> list[str] | None:
    pointer = pointer_of(root)
    return None if OVERLAY not in pointer else list(pointer[OVERLAY]["batches"])


def test_a_load_touching_one_percent_of_batches_reindexes_those_alone_as_a_full_index_would(lake_root, tmp_path):
    load = touch_batches(Lake.open(str(lake_root)), 0.01, seed=5)
    assert load.new_enrolments
    assert load.changed_users
    # response_lines derives from attempts, not from enrolments or users: fresh, and re-indexed with the others.
    assert set(stale_derived_tables(Lake.open(str(lake_root)))) == {"batch_users", "userinfo_lines"}

    counts = index_lake(Lake.open(str(lake_root)))

    assert counts[REINDEXED_BATCHES] == len(load.batches)
    assert overlay_of(lake_root) == list(load.batches)  # exactly the touched batches: no more, no less
    assert not stale_derived_tables(Lake.open(str(lake_root)))
    full = full_index_of(lake_root, tmp_path)
    incremental, whole = Lake.open(str(lake_root)), Lake.open(str(full))
    for table in DERIVED_TABLES:
        assert incremental.read(table).equals(whole.read(table)), table
    assert batch_row_groups(lake_root) == batch_row_groups(full)  # each batch's row groups, byte for byte
    untouched = next(batch for batch in sorted(incremental.read("batches", ["batch_id"])["batch_id"].to_pylist())
                     if batch not in load.batches)  # fmt: skip
    for batch_id in (load.batches[0], untouched):
        for dataset in ("progress-exhaust", "response-exhaust"):
            assert csv_of(lake_root, tmp_path, dataset, batch_id) == csv_of(full, tmp_path, dataset, batch_id)
    assert check_lake(str(lake_root)).ok


def test_loads_add_to_the_overlay_until_a_full_index_folds_it_back(lake_root, tmp_path, monkeypatch):
    monkeypatch.setattr(index_state, "MAX_OVERLAY_ROW_SHARE", 1.0)
    first = touch_batches(Lake.open(str(lake_root)), 0.01, seed=7)
    index_lake(Lake.open(str(lake_root)))
    base = pointer_of(lake_root)["files"]
    second = touch_batches(Lake.open(str(lake_root)), 0.01, seed=8)
    index_lake(Lake.open(str(lake_root)))
    assert overlay_of(lake_root) == sorted({*first.batches, *second.batches})
    assert pointer_of(lake_root)["files"] == base  # the full run's files, kept
    assert batch_row_groups(lake_root) == batch_row_groups(full_index_of(lake_root, tmp_path))

    # Past the share an incremental run may re-index, the run is a full one: no overlay is left.
    monkeypatch.setattr(index_state, "MAX_OVERLAY_ROW_SHARE", 0.0001)
    touch_batches(Lake.open(str(lake_root)), 0.01, seed=9)
    counts = index_lake(Lake.open(str(lake_root)))
    assert REINDEXED_BATCHES not in counts
    assert overlay_of(lake_root) is None
    assert batch_row_groups(lake_root) == batch_row_groups(full_index_of(lake_root, tmp_path))


def test_an_overlay_keeps_the_runs_it_reads_and_drops_the_replaced_overlay_after_the_grace(lake_root, monkeypatch):
    monkeypatch.setattr(index_parts, "RETIRED_RUN_GRACE_SECONDS", 0)
    monkeypatch.setattr(index_state, "MAX_OVERLAY_ROW_SHARE", 1.0)
    full_run = pointer_of(lake_root)["run"]
    touch_batches(Lake.open(str(lake_root)), 0.01, seed=11)
    index_lake(Lake.open(str(lake_root)))
    first_overlay = pointer_of(lake_root)["run"]
    touch_batches(Lake.open(str(lake_root)), 0.01, seed=12)
    index_lake(Lake.open(str(lake_root)))
    second_overlay = pointer_of(lake_root)["run"]
    index_lake(Lake.open(str(lake_root)))  # retires the second; the first's (zero) grace is over

    runs = {path.name for path in (lake_root / "batch_users" / index_parts.RUNS_DIR).iterdir()}
    assert full_run in runs  # its files are still the table's
    assert first_overlay not in runs
    assert second_overlay in runs  # retired by this publish: a reader may still be on it
    assert not unpublished_runs(lake_root)


def test_an_incremental_run_that_fails_leaves_the_previous_tables_whole(lake_root, monkeypatch):
    touch_batches(Lake.open(str(lake_root)), 0.01, seed=13)
    before = derived_bytes(lake_root)

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(materialized, "index_part", failing)
    with pytest.raises(OSError, match="disk full"):
        index_lake(Lake.open(str(lake_root)))
    assert derived_bytes(lake_root) == before
    assert not unpublished_runs(lake_root)


@pytest.fixture
def handmade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The hand-made lake, whose few batches each hold more than the share an incremental run takes by default."""
    monkeypatch.setattr(index_state, "MAX_OVERLAY_ROW_SHARE", 1.0)
    root = tmp_path / "handmade"
    write_handmade_lake(root)
    return root


def rewrite(root: Path, table: str, rows: pa.Table) -> None:
    lake = Lake.open(str(root))
    lake.write(table, rows)


def test_a_removed_user_and_a_removed_attempt_reindex_their_batches(handmade, tmp_path):
    lake = Lake.open(str(handmade))
    users = lake.read("users")
    gone = "u2"
    batches_of_gone = sorted({row["batch_id"] for row in lake.read("enrolments").to_pylist() if row["user_id"] == gone})
    rewrite(handmade, "users", users.filter(pc.not_equal(users["user_id"], gone)))
    attempts = lake.read("assessment_attempts")
    dropped = attempts.slice(0, 1).to_pylist()[0]["batch_id"]
    rewrite(handmade, "assessment_attempts", attempts.slice(1))

    index_lake(Lake.open(str(handmade)))

    assert overlay_of(handmade) == sorted({*batches_of_gone, dropped})
    assert batch_row_groups(handmade) == batch_row_groups(full_index_of(handmade, tmp_path))


@pytest.mark.parametrize("table", ["consents", "batches", "collections", "question_types", "registration_consents"])
def test_a_change_to_a_source_the_incremental_run_does_not_follow_makes_a_full_index(handmade, tmp_path, table):
    lake = Lake.open(str(handmade))
    lake.write(table, lake.read(table), row_group_size=1)  # other bytes, as a reload makes them

    counts = index_lake(Lake.open(str(handmade)))

    assert REINDEXED_BATCHES not in counts
    assert overlay_of(handmade) is None


def test_without_the_digests_of_a_previous_run_the_index_is_full(handmade):
    lake = Lake.open(str(handmade))
    state = pointer_of(handmade)["state"]
    for name in [*state["users"], state["rowGroups"]]:  # unreadable: as good as none recorded
        (Path(lake.table_dir("batch_users")) / name).unlink()
    users = lake.read("users")
    rewrite(handmade, "users", users.slice(1))

    counts = index_lake(Lake.open(str(handmade)))

    assert REINDEXED_BATCHES not in counts
    assert overlay_of(handmade) is None


def test_a_load_changing_more_profiles_than_the_cap_makes_a_full_index(handmade, monkeypatch):
    monkeypatch.setattr(index_state, "MAX_CHANGED_USERS", 1)
    lake = Lake.open(str(handmade))
    users = lake.read("users")
    district = users.schema.get_field_index("district")
    rewrite(handmade, "users", users.set_column(district, "district", pa.array(["Moved"] * users.num_rows)))

    counts = index_lake(Lake.open(str(handmade)))

    assert REINDEXED_BATCHES not in counts
    assert overlay_of(handmade) is None


def test_no_two_different_profiles_share_a_digest_where_a_plain_join_of_their_values_would() -> None:
    # Values that run together when joined ("ab" + "c" and "a" + "bc"), a null against "-", "" and the encoding's own
    # characters: each pair differs in one user's profile, so each must show as a changed user.
    pairs: list[tuple[list[str | None], list[str | None]]] = [
        (["ab", "c"], ["a", "bc"]),
        ([None, "x"], ["-", "x"]),
        ([None, "x"], ["", "x"]),
        (["1:a", "b"], ["1", "a:b"]),
        (["-:-", None], [None, "-:-"]),
    ]
    for before, after in pairs:
        profiles = [
            pa.table({"user_id": ["u1"], "district": [first], "block": [second]}, schema=PROFILE_PAIR)
            for first, second in (before, after)
        ]
        digests = [index_state.user_digests(table) for table in profiles]
        assert index_state.changed_users(*digests).to_pylist() == ["u1"], (before, after)
        assert index_state.changed_users(digests[0], digests[0]).to_pylist() == []


PROFILE_PAIR = pa.schema([("user_id", pa.string(), False), ("district", pa.string()), ("block", pa.string())])
