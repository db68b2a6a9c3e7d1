"""The layout lets a builder read one batch without reading the whole enrolments table."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake import schemas
from exhaust.lake.materialized import RESPONSE_LINES, USERINFO_LINES, index_lake
from exhaust.lake.store import Lake
from exhaust_devkit.lake.metering import CountingHandler

from tests.unit.handmade_lake import write_handmade_lake

BATCHES = 40
USERS_PER_BATCH = 1000


def batch_id(number: int) -> str:
    return f"batch-{number:03d}"


@pytest.fixture(scope="module")
def many_batches(tmp_path_factory):
    """40 batches of 1000 enrolments of one course, in row groups of 1000 rows (a few MB in all)."""
    root = str(tmp_path_factory.mktemp("layout"))
    lake = Lake.open(root)
    lake.write(
        "collections",
        pa.Table.from_pylist(
            [
                {
                    "collection_id": "C",
                    "name": "Course",
                    "channel": "ch",
                    "content_type": "Course",
                    "status": "Live",
                    "requires_consent": False,
                    "leaf_count": 3,
                    "leaf_ids": ["L1", "L2", "L3"],
                }
            ],
            schema=schemas.COLLECTIONS,
        ),
    )
    lake.write(
        "batches",
        pa.Table.from_pylist(
            [{"batch_id": batch_id(n), "collection_id": "C", "name": f"B{n}"} for n in range(BATCHES)],
            schema=schemas.BATCHES,
        ),
    )
    enrolled = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    rows = [
        {
            "batch_id": batch_id(n),
            "user_id": f"user-{n:03d}-{u:04d}-{hashlib.sha1(f'{n}/{u}'.encode()).hexdigest()}",
            "collection_id": "C",
            "enrolled_on": enrolled,
            "status": 1,
            "completed_contents": ["L1", hashlib.sha1(f"{u}/{n}".encode()).hexdigest()]
            if u % 2
            else ["L1", "L2", "L3"],
        }
        for n in range(BATCHES)
        for u in range(USERS_PER_BATCH)
    ]
    lake.write("enrolments", pa.Table.from_pylist(rows, schema=schemas.ENROLMENTS), row_group_size=USERS_PER_BATCH)
    lake.write(
        "users",
        pa.Table.from_pylist([{"user_id": row["user_id"], "state": "Goa"} for row in rows], schema=schemas.USERS),
        row_group_size=USERS_PER_BATCH,
    )
    lake.write("assessment_attempts", pa.Table.from_pylist([], schema=schemas.ASSESSMENT_ATTEMPTS))
    index_lake(lake)
    return root


def test_building_one_batch_reads_a_small_part_of_its_extract_and_nothing_of_enrolments_nor_users(
    many_batches, tmp_path
):
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), many_batches)
    summary = build_batch_zip(
        BatchBuild("progress-exhaust", batch_id(17), "ch", "pw", lake, dt.date(2026, 11, 2)), tmp_path / "b.zip"
    )

    assert summary.rows == USERS_PER_BATCH
    extract_bytes = sum(size for _, size, _ in Lake.open(many_batches).listing("batch_users"))
    assert 0 < handler.bytes_read["batch_users"] < extract_bytes / 4
    # The rows are the extract's progress lines; the extract's freshness is checked by listing, not reading.
    assert handler.bytes_read["enrolments"] == 0
    assert handler.bytes_read["users"] == 0, "profiles come from the batch_users extract"


def test_scan_prunes_row_groups_and_still_returns_every_matching_row(many_batches):
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), many_batches)
    rows = lake.read("enrolments", ["batch_id", "user_id"], equals={"batch_id": batch_id(3)})
    assert rows.num_rows == USERS_PER_BATCH
    assert set(rows["batch_id"].to_pylist()) == {batch_id(3)}
    assert rows["user_id"].to_pylist() == sorted(rows["user_id"].to_pylist())
    first_scan = handler.bytes_read["enrolments"]

    everything = lake.read("enrolments", ["batch_id", "user_id"])
    assert everything.num_rows == BATCHES * USERS_PER_BATCH
    # The first scan also read the footer (Arrow fetches the file's last 64 KiB for it).
    assert handler.bytes_read["enrolments"] - first_scan > 5 * first_scan


def test_scan_combines_equality_range_and_membership(many_batches):
    lake = Lake.open(many_batches)
    ids = lake.read("enrolments", ["user_id"])["user_id"].to_pylist()
    wanted = [ids[5 * USERS_PER_BATCH + 11], ids[5 * USERS_PER_BATCH + 15]]
    other = ids[6 * USERS_PER_BATCH + 11]
    found = lake.read(
        "enrolments",
        ["user_id"],
        equals={"batch_id": batch_id(5)},
        between={"user_id": ("user-005-0010", "user-005-0019~")},
        isin={"user_id": [wanted[0], wanted[1], other]},
    )
    assert found["user_id"].to_pylist() == wanted


def test_a_missing_table_reads_as_empty(tmp_path):
    assert Lake.open(str(tmp_path)).read("consents").num_rows == 0


def test_write_sorts_rows_by_the_tables_sort_key(tmp_path):
    lake = Lake.open(str(tmp_path))
    lake.write(
        "batches",
        pa.Table.from_pylist(
            [{"batch_id": "b2", "collection_id": "c"}, {"batch_id": "b1", "collection_id": "c"}],
            schema=schemas.BATCHES,
        ),
    )
    assert lake.read("batches", ["batch_id"])["batch_id"].to_pylist() == ["b1", "b2"]


def test_time_bounds_may_be_naive_utc_or_aware(tmp_path):
    lake = Lake.open(str(tmp_path))
    moments = [dt.datetime(2026, 11, day, 12, tzinfo=dt.UTC) for day in (1, 2, 3)]
    lake.write(
        "observations",
        pa.Table.from_pylist(
            [{"observed_at": moment, "value": 1.0} for moment in moments], schema=schemas.OBSERVATIONS
        ),
    )
    aware = lake.read("observations", between={"observed_at": (dt.datetime(2026, 11, 2, tzinfo=dt.UTC), None)})
    naive = lake.read("observations", between={"observed_at": (dt.datetime(2026, 11, 2), None)})
    assert aware.num_rows == naive.num_rows == 2


def test_rows_with_a_null_in_a_bounded_column_are_never_returned(tmp_path):
    lake = Lake.open(str(tmp_path))
    ends = [dt.date(2026, 1, 1), None, dt.date(2026, 1, 3)]
    lake.write(
        "batches",
        pa.Table.from_pylist(
            [{"batch_id": f"b{n}", "collection_id": "c", "end_date": end} for n, end in enumerate(ends)],
            schema=schemas.BATCHES,
        ),
    )
    found = lake.read("batches", ["batch_id"], between={"end_date": (dt.date(2026, 1, 1), dt.date(2026, 1, 3))})
    assert found["batch_id"].to_pylist() == ["b0", "b2"]


def test_membership_reads_skip_row_groups_without_any_wanted_id(many_batches):
    ids = Lake.open(many_batches).read("enrolments", ["user_id"])["user_id"].to_pylist()
    wanted = [ids[7 * USERS_PER_BATCH + 3], ids[7 * USERS_PER_BATCH + 500]]
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), many_batches)
    found = lake.read("enrolments", ["user_id", "completed_contents"], isin={"user_id": wanted})
    assert found["user_id"].to_pylist() == wanted
    table_bytes = sum(size for _, size in lake_file_sizes(many_batches, "enrolments"))
    assert handler.bytes_read["enrolments"] < table_bytes / 4


def lake_file_sizes(root, table):
    selector = pafs.FileSelector(f"{root}/{table}")
    return [(info.path, info.size) for info in pafs.LocalFileSystem().get_file_info(selector)]


SMALL_BATCH_USERS = 300
POOL_USERS = 120_000


def random_ids(count, seed):
    return [hashlib.sha256(f"{seed}/{n}".encode()).hexdigest()[:32] for n in range(count)]


@pytest.fixture(scope="module")
def small_batch_in_a_large_lake(tmp_path_factory):
    """A batch of 300 users spread over a users table of 120,000, next to a batch holding all of them."""
    root = str(tmp_path_factory.mktemp("spread"))
    lake = Lake.open(root)
    lake.write("collections", pa.Table.from_pylist([{"collection_id": "C", "name": "Course", "channel": "ch",
               "content_type": "Course", "status": "Live", "requires_consent": True, "leaf_count": 2,
               "leaf_ids": ["L1", "L2"]}], schema=schemas.COLLECTIONS))  # fmt: skip
    batches = [{"batch_id": name, "collection_id": "C", "name": name} for name in ("big", "small")]
    lake.write("batches", pa.Table.from_pylist(batches, schema=schemas.BATCHES))
    pool = random_ids(POOL_USERS, "user")
    small = pool[:: POOL_USERS // SMALL_BATCH_USERS][:SMALL_BATCH_USERS]
    count = len(pool) + len(small)
    enrolled = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    lake.write("enrolments", pa.table({
        "batch_id": pa.array(["big"] * len(pool) + ["small"] * len(small)),
        "user_id": pa.array(pool + small),
        "collection_id": pa.array(["C"] * count),
        "enrolled_on": pa.array([enrolled] * count, schemas.TIMESTAMP),
        "completed_on": pa.nulls(count, schemas.TIMESTAMP),
        "status": pa.array([1] * count, pa.int8()),
        "completed_contents": pa.array([["L1"]] * count, pa.list_(pa.string())),
        "certificates": pa.nulls(count, pa.list_(schemas.CERTIFICATE)),
    }, schema=schemas.ENROLMENTS))  # fmt: skip
    names = pa.array(random_ids(POOL_USERS, "name"))
    profiles = {name: names for name in ("name", "email", "school_name")}
    columns = {"user_id": pa.array(pool), "state": pa.array(["Goa"] * len(pool)), **profiles}
    lake.write("users", pa.table({name: columns.get(name, pa.nulls(len(pool), pa.string()))
                                  for name in schemas.USERS.names}, schema=schemas.USERS))  # fmt: skip
    lake.write("consents", pa.table({"collection_id": ["C"] * len(small), "consumer_id": ["ch"] * len(small),
                                     "user_id": small, "status": ["ACTIVE"] * len(small),
                                     "consented_on": pa.array([enrolled] * len(small), schemas.TIMESTAMP)},
                                    schema=schemas.CONSENTS))  # fmt: skip
    attempted = [("big", user) for user in pool[::3]] + [("small", user) for user in small]
    questions = [(batch, user, index) for batch, user in attempted for index in range(QUESTIONS)]
    count = len(questions)
    attempts = {
        "batch_id": pa.array([batch for batch, _, _ in questions]),
        "user_id": pa.array([user for _, user, _ in questions]),
        "collection_id": pa.array(["C"] * count),
        "content_id": pa.array(["A"] * count),
        "attempt_id": pa.array([f"t-{user}" for _, user, _ in questions]),
        "attempted_on": pa.array([enrolled] * count, schemas.TIMESTAMP),
        "question_index": pa.array([index for _, _, index in questions], pa.int16()),
        "question_type": pa.array(["mcq"] * count),
        "question_score": pa.array([1.0] * count),
        "question_max_score": pa.array([1.0] * count),
        "question_response": pa.array(random_ids(count, "response"), pa.string()),
    }
    schema = schemas.ASSESSMENT_ATTEMPTS
    lake.write("assessment_attempts", pa.table(
        [attempts.get(field.name, pa.nulls(count, field.type)) for field in schema], schema=schema))  # fmt: skip
    index_lake(lake)
    return root


QUESTIONS = 3
SMALL_BATCH_ROWS = {"progress-exhaust": SMALL_BATCH_USERS, "userinfo-exhaust": SMALL_BATCH_USERS,
                    "response-exhaust": SMALL_BATCH_USERS * QUESTIONS}  # fmt: skip


@pytest.fixture(scope="module")
def small_batch_in_a_large_lake_without_lines(small_batch_in_a_large_lake: str, tmp_path_factory: pytest.TempPathFactory
                                              ) -> str:  # fmt: skip
    """The same lake as an older index left it: no stored userinfo or response lines, so those build live."""
    root = tmp_path_factory.mktemp("spread-live") / "lake"
    shutil.copytree(small_batch_in_a_large_lake, root)
    for table in (USERINFO_LINES, RESPONSE_LINES):
        shutil.rmtree(root / table)
    return str(root)


@pytest.mark.parametrize(
    ("dataset", "rows_from"),
    [("progress-exhaust", "index"), ("userinfo-exhaust", "index"), ("userinfo-exhaust", "live"),
     ("response-exhaust", "index"), ("response-exhaust", "live")],
)  # fmt: skip
def test_a_small_batch_reads_what_it_needs_from_a_large_lake(
    small_batch_in_a_large_lake: str,
    small_batch_in_a_large_lake_without_lines: str,
    tmp_path: Path,
    dataset: str,
    rows_from: str,
) -> None:
    root = small_batch_in_a_large_lake if rows_from == "index" else small_batch_in_a_large_lake_without_lines
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), root)
    summary = build_batch_zip(BatchBuild(dataset, "small", "ch", "pw", lake, dt.date(2026, 11, 2)), tmp_path / "b.zip")

    assert (summary.rows, summary.rows_from) == (SMALL_BATCH_ROWS[dataset], rows_from)
    # Docs/lake.md's budget: 2 MB plus 1 MB per 1,000 rows, in a number of reads that does not grow with the lake.
    budget = 2 * 1024 * 1024 + summary.rows * 1024 * 1024 // 1000
    assert sum(handler.bytes_read.values()) <= budget, handler.bytes_read
    assert sum(handler.reads.values()) <= 60, handler.reads
    # The tables are larger than the budget: the bound means something.
    source = "assessment_attempts" if dataset == "response-exhaust" else "users"
    assert sum(size for _, size in lake_file_sizes(root, source)) > budget


def test_progress_scores_come_from_the_extract_without_reading_the_batchs_question_rows(tmp_path):
    root = tmp_path / "handmade"
    write_handmade_lake(root)
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), str(root))
    summary = build_batch_zip(
        BatchBuild("progress-exhaust", "B1", "ch", "pw", lake, dt.date(2026, 11, 2)), tmp_path / "p.zip"
    )

    assert summary.rows == 4  # its scores are checked value by value in test_builders_golden
    assert handler.bytes_read["batch_users"] > 0
    assert handler.bytes_read["assessment_attempts"] == 0, "best attempts come from batch_users"
