"""Value rules of the datasets that the golden lake does not reach: rounding, caps, float sums."""

from __future__ import annotations

import pyarrow as pa
from exhaust.lake.progress_lines import _progress
from exhaust.lake.values import list_match_counts, percent


def test_progress_rounds_half_up_and_caps_at_100():
    counts = pa.array([0, 1, 3, 8, 9], pa.int64())
    assert _progress(counts, 8).to_pylist() == [0, 13, 38, 100, 100]


def test_progress_is_empty_without_a_leaf_count():
    counts = pa.array([0, 5], pa.int64())
    assert _progress(counts, None).to_pylist() == [None, None]
    assert _progress(counts, 0).to_pylist() == [None, None]


def test_percent_is_the_ceiling_and_float_sums_do_not_overshoot():
    score = pa.array([1.0, 0.1 + 0.2, 2.0, 1.0, None])
    maximum = pa.array([3.0, 0.3, 0.0, None, 5.0])
    assert percent(score, maximum).to_pylist() == ["34%", "100%", None, None, None]


def test_list_match_counts_counts_only_listed_values_per_row():
    lists = pa.array([["a", "b", "x"], [], None, ["b"]], pa.list_(pa.string()))
    assert list_match_counts(lists, pa.array(["a", "b"])).to_pylist() == [2, 0, 0, 1]
    assert list_match_counts(lists.slice(1), pa.array(["b"])).to_pylist() == [0, 0, 1]


def test_the_extract_holds_each_enrolments_profile_for_sparse_and_dense_batches(tmp_path):
    import pyarrow as pa
    from exhaust.lake import schemas
    from exhaust.lake.extracts import BATCH_USERS
    from exhaust.lake.materialized import write_batch_users
    from exhaust.lake.store import Lake

    lake = Lake.open(str(tmp_path))
    rows = [{"user_id": f"u{n:04d}", "state": f"S{n % 7}", "name": f"N{n}"} for n in range(2000)]
    lake.write("users", pa.Table.from_pylist(rows, schema=schemas.USERS), row_group_size=100)
    enrolled = [{"batch_id": "B", "user_id": f"u{n:04d}", "collection_id": "C"} for n in range(0, 2000, 3)]
    enrolled.append({"batch_id": "B", "user_id": "u1500x", "collection_id": "C"})  # a user the lake does not know
    enrolled += [{"batch_id": "A", "user_id": f"u{n:04d}", "collection_id": "C"} for n in range(2000)]
    lake.write("enrolments", pa.Table.from_pylist(enrolled, schema=schemas.ENROLMENTS))
    write_batch_users(lake)

    def profiles(batch_id: str) -> dict[str, dict[str, str | None]]:
        found = lake.read(BATCH_USERS, ["user_id", "state", "name"], equals={"batch_id": batch_id})
        return {row["user_id"]: row for row in found.to_pylist()}

    sparse = profiles("B")  # spread over the users table, one unknown
    assert len(sparse) == 668
    assert [sparse[user]["name"] for user in ("u0003", "u0999", "u1500x", "u1998")] == ["N3", "N999", None, "N1998"]
    assert [sparse[user]["state"] for user in ("u0003", "u0999", "u1500x", "u1998")] == ["S3", "S5", None, "S3"]
    dense = profiles("A")
    assert [dense[f"u{n:04d}"]["name"] for n in range(100, 300)] == [f"N{n}" for n in range(100, 300)]
