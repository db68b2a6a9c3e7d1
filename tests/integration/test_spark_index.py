"""The Spark job writes the single process's derived tables byte for byte, refuses a broken lake before writing,
and leaves the previous tables in place when it fails (Spark in local mode, one session for the whole run)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from exhaust.lake.index_parts import DERIVED_TABLES, LakeContractError
from exhaust.lake.materialized import index_lake
from exhaust.lake.store import Lake
from exhaust_devkit.lake.platform_generator import generate_platform

from tests.unit.handmade_lake import CHANNEL, unpublished_runs, write_handmade_lake
from tests.unit.handmade_lake import derived_bytes as published_bytes

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pyspark = pytest.importorskip("pyspark")

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("exhaust-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def run_spark(spark: SparkSession, root: Path, part_rows: int = 500_000, *, full: bool = False) -> dict[str, int]:
    from exhaust.lake.spark_index import index_lake_with_spark

    return index_lake_with_spark(spark, str(root), part_rows=part_rows, full=full)


def twin(root: Path, to: Path) -> Path:
    """A copy of the lake's source tables with the same file times (so both record the same sources)."""
    shutil.copytree(root, to, copy_function=shutil.copy2, ignore=shutil.ignore_patterns(*DERIVED_TABLES))
    return to


def derived_bytes(root: Path) -> dict[str, bytes]:
    """The derived tables' files and the course directory's channel documents (its `_sources.json` names the
    lake's own paths, which differ between the two copies)."""
    tables = published_bytes(root)
    assert tables, "no derived table was published"
    channels = {
        f"{file.parent.name}/{file.name}": file.read_bytes() for file in (root / "_directory").glob("[!_]*.json")
    }
    assert channels, "no course directory was written"
    return {**tables, **channels}


def test_the_golden_lake_indexed_by_spark_is_the_single_process_index_byte_for_byte(spark, tmp_path):
    local = tmp_path / "local"
    write_handmade_lake(local)  # indexed by the single process
    by_spark = twin(local, tmp_path / "spark")

    counts = run_spark(spark, by_spark)

    assert counts == {"batch_users": 9, "userinfo_lines": 4, "response_lines": 13, "course_directory": 4}
    assert derived_bytes(by_spark) == derived_bytes(local)
    assert not unpublished_runs(by_spark)


def test_a_generated_lake_in_several_parts_unsorted_files_included_is_the_same_bytes(spark, tmp_path):
    local = tmp_path / "local"
    shape = generate_platform(3_000, 7, str(local))
    lake = Lake.open(str(local))
    # A loader that appended a second, unsorted enrolments file: both engines sort.
    enrolments = lake.read("enrolments")
    last = enrolments.slice(enrolments.num_rows - 300)
    pq_path = local / "enrolments" / "part-00000.parquet"
    import pyarrow.parquet as pq

    pq.write_table(enrolments.slice(0, enrolments.num_rows - 300), pq_path)
    pq.write_table(last.take(list(reversed(range(last.num_rows)))), local / "enrolments" / "part-00001.parquet")
    by_spark = twin(local, tmp_path / "spark")

    expected = index_lake(Lake.open(str(local)), part_rows=1_500)
    counts = run_spark(spark, by_spark, part_rows=1_500)

    assert counts == expected
    assert counts["batch_users"] == shape["enrolments"]
    written = derived_bytes(by_spark)
    assert len([name for name in written if name.startswith("batch_users/")]) >= 4  # several ranges of batches
    assert written == derived_bytes(local)


def test_consents_of_several_consumers_per_batch_are_joined_by_spark_not_read_on_the_driver(
    spark, tmp_path, monkeypatch
):
    """Several consumers per batch, revoked and absent consents, a loader's appended file whose event ties an
    earlier one in time (the later file wins): the lines and their bytes are the single process's, and the driver
    reads no consent event (Spark joins them to the parts)."""
    import pyarrow.parquet as pq
    from exhaust.lake import schemas

    from tests.unit.handmade_lake import at, consent

    local = tmp_path / "local"
    write_handmade_lake(local)
    appended = [
        consent("u5", CHANNEL, "REVOKED", at("2026-10-04", "08:00:00")),  # the same instant as u5's ACTIVE
        consent("u1", "org-b", "REVOKED", at("2026-09-02")),
        consent("u1", "org-b", "ACTIVE", at("2026-09-01")),
        consent("u2", "org-b", "ACTIVE", at("2026-09-01")),
        consent("u5", "org-b", "ACTIVE", at("2026-10-05")),
        consent("u99", "org-d", "ACTIVE", at("2026-10-05")),  # a consumer whose only consenting user is not enrolled
        consent("u1", "org-e", "ACTIVE", at("2026-10-05"), collection="C2"),  # C2 asks for no consent
    ]
    pq.write_table(pa.Table.from_pylist(appended, schema=schemas.CONSENTS), local / "consents" / "part-00001.parquet")
    by_spark = twin(local, tmp_path / "spark")
    expected = index_lake(Lake.open(str(local)))
    driver_reads: list[str] = []
    read_piece = Lake.read_piece

    def recorded(self, piece, *args, **kwargs):
        driver_reads.append(piece.table)
        return read_piece(self, piece, *args, **kwargs)

    monkeypatch.setattr(Lake, "read_piece", recorded)

    counts = run_spark(spark, by_spark)

    assert "consents" not in driver_reads
    assert counts == expected
    lake = Lake.open(str(by_spark))
    lines = lake.read("userinfo_lines", ["batch_id", "consumer_id", "user_id"]).to_pylist()
    assert [(line["batch_id"], line["consumer_id"], line["user_id"]) for line in lines] == [
        ("B1", CHANNEL, "u1"),
        ("B1", "org-b", "u2"),
        ("B1", "other-org", "u4"),
        ("B2", CHANNEL, "u1"),
        ("B2", "org-b", "u5"),
    ]
    recorded_consumers = (lake.pointer("userinfo_lines") or {})["consumers"]
    assert recorded_consumers == {"C1": sorted([CHANNEL, "org-b", "org-d", "other-org"])}
    assert derived_bytes(by_spark) == derived_bytes(local)


def test_a_duplicate_enrolment_is_refused_by_name_before_anything_is_written(spark, tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    before = derived_bytes(root)
    lake = Lake.open(str(root))
    enrolments = lake.read("enrolments")
    lake.write("enrolments", pa.concat_tables([enrolments, enrolments.slice(3, 1)]))
    duplicate = enrolments.slice(3, 1).to_pylist()[0]

    with pytest.raises(LakeContractError) as refused:
        run_spark(spark, root)

    message = str(refused.value)
    assert message.startswith("enrolments: ")
    assert "batch_id, user_id" in message
    assert f"({duplicate['batch_id']!r}, {duplicate['user_id']!r})" in message
    assert derived_bytes(root) == before
    assert not unpublished_runs(root)


def test_a_column_of_the_wrong_type_is_refused_naming_table_and_column(spark, tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    before = derived_bytes(root)
    users = Lake.open(str(root)).read("users")
    import pyarrow.parquet as pq

    phones = pa.array([len(phone or "") for phone in users["phone"].to_pylist()], pa.int64())
    pq.write_table(users.set_column(users.schema.get_field_index("phone"), "phone", phones),
                   root / "users" / "part-00000.parquet")  # fmt: skip

    with pytest.raises(LakeContractError, match=r"users: part-00000.parquet holds column phone as int64, not string"):
        run_spark(spark, root)
    assert derived_bytes(root) == before


def test_a_job_failing_in_its_tasks_leaves_the_previous_tables_in_place(spark, tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    before = derived_bytes(root)
    # Read only by the tasks (the response rules), after they staged batch_users and userinfo_lines.
    corrupt_data_pages(root / "registration_consents" / "part-00000.parquet")

    with pytest.raises(Exception, match=r"(?i)parquet|thrift|zstd|decompress|corrupt|invalid"):
        run_spark(spark, root, full=True)  # its footer kept, the file counts as unchanged otherwise

    assert derived_bytes(root) == before
    assert not unpublished_runs(root)


def corrupt_data_pages(path: Path) -> None:
    """Scramble the column data of a Parquet file, keeping its footer (so listings and footers still read)."""
    import pyarrow.parquet as pq

    footer_start = len(path.read_bytes()) - 8 - pq.ParquetFile(path).metadata.serialized_size
    data = bytearray(path.read_bytes())
    for position in range(4, footer_start):
        data[position] ^= 0x5A
    path.write_bytes(bytes(data))


def test_spark_indexes_a_load_incrementally_and_either_engine_follows_the_other(spark, tmp_path, monkeypatch):
    from exhaust.lake import index_state
    from exhaust.lake.materialized import REINDEXED_BATCHES
    from exhaust_devkit.lake.loads import batch_row_group_digests, touch_batches

    monkeypatch.setattr(index_state, "MAX_OVERLAY_ROW_SHARE", 1.0)  # the load's batches, whatever their size
    root = tmp_path / "lake"
    generate_platform(30_000, 4, str(root))
    run_spark(spark, root)  # a full run (no state yet) that records the digests, profiles by Spark's tasks

    def full_index_of_copy(name: str) -> dict[str, dict[str, list[str]]]:
        copy = tmp_path / name
        shutil.copytree(root, copy)
        index_lake(Lake.open(str(copy)), full=True)
        return batch_row_group_digests(Lake.open(str(copy)))

    first = touch_batches(Lake.open(str(root)), 0.02, seed=21)
    counts = run_spark(spark, root, part_rows=5_000)
    pointer = Lake.open(str(root)).pointer("batch_users") or {}
    assert counts[REINDEXED_BATCHES] == len(first.batches)
    assert pointer["overlay"]["batches"] == list(first.batches)
    assert batch_row_group_digests(Lake.open(str(root))) == full_index_of_copy("full-after-spark")

    # The single process reads what the Spark job recorded, and adds the next load to its overlay.
    second = touch_batches(Lake.open(str(root)), 0.02, seed=22)
    counts = index_lake(Lake.open(str(root)))
    assert counts[REINDEXED_BATCHES] == len({*first.batches, *second.batches})
    assert batch_row_group_digests(Lake.open(str(root))) == full_index_of_copy("full-after-local")


def test_spark_makes_a_full_run_past_the_changed_profiles_cap(spark, tmp_path, monkeypatch):
    from exhaust.lake import index_state
    from exhaust.lake.materialized import REINDEXED_BATCHES

    root = tmp_path / "lake"
    write_handmade_lake(root)
    run_spark(spark, root, full=True)  # records the digests
    monkeypatch.setattr(index_state, "MAX_CHANGED_USERS", 1)
    monkeypatch.setattr(index_state, "MAX_OVERLAY_ROW_SHARE", 1.0)
    lake = Lake.open(str(root))
    users = lake.read("users")
    district = users.schema.get_field_index("district")
    lake.write("users", users.set_column(district, "district", pa.array(["Moved"] * users.num_rows)))

    counts = run_spark(spark, root)

    assert REINDEXED_BATCHES not in counts
    assert "overlay" not in (Lake.open(str(root)).pointer("batch_users") or {})


def test_the_ranged_and_the_joined_profile_comparisons_find_the_same_changed_users(spark, tmp_path, monkeypatch):
    # Sorted users are compared a range of ids per task (no digest reaches the JVM), others by a Spark join: the
    # same changed users, the same recorded digests, and the single process's rule (index_state.changed_users).
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from exhaust.lake import index_state, spark_index

    root = tmp_path / "lake"
    generate_platform(30_000, 4, str(root))
    users = Lake.open(str(root)).read("users").sort_by("user_id")

    def write_users(table: pa.Table, files: int, row_group: int, *, reverse: bool = False) -> Lake:
        folder = root / "users"
        shutil.rmtree(folder)
        folder.mkdir()
        step = -(-table.num_rows // files)
        for number in range(files):
            name = f"part-{files - 1 - number if reverse else number:05d}.parquet"
            pq.write_table(table.slice(number * step, step), folder / name, row_group_size=row_group)
        return Lake.open(str(root))

    def state(lake: Lake, run: str, previous: list[str] | None, *, joined: bool = False):
        compare = spark_index.joined_user_digest_state if joined else spark_index.user_digest_state
        return compare(spark, lake, str(root), lake.table_dir("batch_users"), f"_runs/{run}", previous)

    def digests(lake: Lake, names: list[str]) -> pa.Table:
        folder = lake.table_dir("batch_users")
        return pa.concat_tables([pq.read_table(f"{folder}/{name}") for name in names]).sort_by("user_id")

    monkeypatch.setattr(spark_index, "READ_PIECE_ROWS", 1_500)
    lake = write_users(users, 3, 700)
    assert spark_index._sorted_lows(lake, spark_index._read_tasks(lake, "users")) is not None
    recorded, changed = state(lake, "before", None)
    assert changed is None
    assert len(recorded) > 3  # several tasks, each a range of ids

    ids = users["user_id"].to_pylist()
    gone = {ids[0], ids[1500], ids[2100], ids[-1]}  # the first, a task's first, one inside, the last
    moved = {ids[10], ids[1499], ids[2999]}
    added = [f"{ids[5]}a", f"{ids[1500]}a", f"{ids[-1]}z"]
    kept = users.filter(pc.invert(pc.is_in(users["user_id"], value_set=pa.array(sorted(gone)))))
    district = pc.if_else(pc.is_in(kept["user_id"], value_set=pa.array(sorted(moved))), "Moved", kept["district"])
    kept = kept.set_column(kept.schema.get_field_index("district"), "district", district)
    new_rows = kept.slice(0, len(added)).set_column(0, "user_id", pa.array(added, pa.string()))
    after = pa.concat_tables([kept, new_rows.cast(kept.schema)]).sort_by("user_id")
    expected = sorted(gone | moved | set(added))

    lake = write_users(after, 4, 500)  # other files, other ranges
    ranged = state(lake, "ranged", recorded)
    joined = state(lake, "joined", recorded, joined=True)
    assert ranged[1] == joined[1] == expected
    assert digests(lake, ranged[0]).equals(digests(lake, joined[0]))
    single = index_state.changed_users(digests(lake, recorded), index_state.user_digests(lake.read("users")))
    assert sorted(single.to_pylist()) == expected

    lake = write_users(after, 4, 500, reverse=True)  # files out of order: the join
    assert spark_index._sorted_lows(lake, spark_index._read_tasks(lake, "users")) is None
    assert state(lake, "unsorted", recorded)[1] == expected
