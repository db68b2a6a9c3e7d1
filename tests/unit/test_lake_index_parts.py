"""The index in parts (exhaust.lake.index_parts): ranges of batches, row groups from the rows alone, refusals
before writing, and a failed run that leaves the previous derived tables in place (single process here; the
Spark job is compared byte for byte in tests/integration/test_spark_index.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pyzipper
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake import index_parts
from exhaust.lake.index_parts import (
    DERIVED_TABLES,
    LakeContractError,
    Part,
    RowGroupWriter,
    plan_parts,
)
from exhaust.lake.materialized import index_lake
from exhaust.lake.schemas import TABLES
from exhaust.lake.store import Lake
from exhaust_devkit.cli import main
from exhaust_devkit.lake import cli

from tests.unit.handmade_lake import CHANNEL, derived_bytes, unpublished_runs, write_handmade_lake

DAY = dt.date(2026, 11, 2)
PASSWORD = "uKW)Afn9D5"


def test_parts_are_consecutive_batch_ranges_cut_at_the_row_budget():
    rows = {"b1": 3, "b2": 4, "b3": 10, "b4": 1, "b5": 1}
    assert plan_parts(rows, part_rows=8) == (
        Part(0, "b1", "b2"),
        Part(1, "b3", "b3"),  # larger than a part: a part of its own
        Part(2, "b4", "b5"),
    )
    assert plan_parts({}, part_rows=8) == (Part(0, "", ""),)  # an empty lake still gets its (empty) tables


def test_row_groups_depend_on_the_rows_not_on_how_they_arrive(tmp_path):
    spec = TABLES["response_lines"]
    rows = pa.table(
        {
            "batch_id": ["a"] * 5 + ["b"] * 40_000,
            "line_number": [*range(5), *range(40_000)],
            "response_line": [f"line {n}\r\n" for n in range(40_005)],
        }
    )
    files = []
    for name, cuts in (("whole", [40_005]), ("pieces", [3, 2, 7, 32_768, 7_225])):
        writer = RowGroupWriter(Lake.open(str(tmp_path)).filesystem, str(tmp_path / f"{name}.parquet"), spec, {})
        start = 0
        for length in cuts:
            writer.add(rows.slice(start, length))
            start += length
        assert writer.close() == 40_005
        files.append((tmp_path / f"{name}.parquet").read_bytes())
    assert files[0] == files[1]
    metadata = pq.ParquetFile(tmp_path / "whole.parquet").metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [5, 32_768, 7_232]


def test_several_parts_each_hold_a_range_of_batches_and_build_the_same_datasets(tmp_path):
    one = write_handmade_lake(tmp_path / "one")
    several = write_handmade_lake(tmp_path / "several")
    index_lake(several, part_rows=2)

    ranges = []
    for path, metadata in several.files("batch_users"):
        batch_ids = pq.read_table(path, columns=["batch_id"])["batch_id"].to_pylist()
        assert set(metadata.metadata or {}) <= {b"ARROW:schema"}  # nothing of the lake beyond its rows
        if batch_ids:
            ranges.append((batch_ids[0], batch_ids[-1]))
    assert len(several.files("batch_users")) > 1
    assert ranges == sorted(ranges)
    assert all(last < first for (_, last), (first, _) in itertools.pairwise(ranges))
    for dataset, batch_id in (("progress-exhaust", "B1"), ("userinfo-exhaust", "B2"), ("response-exhaust", "B2")):
        assert built(several, tmp_path, dataset, batch_id) == built(one, tmp_path, dataset, batch_id)


def built(lake: Lake, tmp_path: Path, dataset: str, batch_id: str) -> tuple[str, list[list[str]]]:
    path = tmp_path / f"{dataset}-{batch_id}.zip"
    summary = build_batch_zip(BatchBuild(dataset, batch_id, CHANNEL, PASSWORD, lake, DAY), path)
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(PASSWORD.encode())
        (name,) = archive.namelist()
        rows = list(csv.reader(io.StringIO(archive.read(name).decode(), newline="")))
    return summary.rows_from, rows


def test_a_duplicate_enrolment_is_refused_naming_it_before_anything_is_written(tmp_path):
    lake = write_handmade_lake(tmp_path / "lake")
    before = derived_bytes(tmp_path / "lake")
    enrolments = lake.read("enrolments")
    lake.write("enrolments", pa.concat_tables([enrolments, enrolments.slice(2, 1)]))
    row = enrolments.slice(2, 1).to_pylist()[0]

    with pytest.raises(LakeContractError) as refused:
        index_lake(Lake.open(str(tmp_path / "lake")))

    assert str(refused.value) == (
        "enrolments: a duplicate enrolment in columns batch_id, user_id; "
        f"first: ({row['batch_id']!r}, {row['user_id']!r})"
    )
    assert derived_bytes(tmp_path / "lake") == before


@pytest.mark.parametrize(
    ("table", "column", "replacement", "message"),
    [
        ("enrolments", "status", None, "enrolments: part-00000.parquet has no column status"),
        ("assessment_attempts", "question_score", pa.array(["1"] * 13), "holds column question_score as string"),
    ],
)
def test_a_missing_column_or_a_wrong_type_is_refused_naming_table_and_column(
    tmp_path, table, column, replacement, message
):
    root = tmp_path / "lake"
    lake = write_handmade_lake(root)
    before = derived_bytes(root)
    rows = lake.read(table)
    position = rows.schema.get_field_index(column)
    if replacement is None:
        changed = rows.remove_column(position)
    else:
        changed = rows.set_column(position, column, replacement.slice(0, rows.num_rows))
    pq.write_table(changed, root / table / "part-00000.parquet")

    with pytest.raises(LakeContractError, match=message):
        index_lake(Lake.open(str(root)))
    assert derived_bytes(root) == before


def test_a_run_that_fails_midway_leaves_the_previous_tables_whole(tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    before = derived_bytes(root)
    path = root / "registration_consents" / "part-00000.parquet"  # read by the response rules, after batch_users
    data = bytearray(path.read_bytes())
    footer_start = len(data) - 8 - pq.ParquetFile(path).metadata.serialized_size
    for position in range(4, footer_start):
        data[position] ^= 0x5A
    path.write_bytes(bytes(data))

    with pytest.raises(OSError):  # noqa: PT011 (Arrow's message names the corrupt page, it varies by codec)
        index_lake(Lake.open(str(root)), full=True)  # its footer kept, the file counts as unchanged otherwise

    assert derived_bytes(root) == before
    assert not unpublished_runs(root)


def test_the_cli_offers_both_engines_and_the_same_part_size(tmp_path, capsys):
    assert cli.PART_ROWS == index_parts.PART_ROWS
    root = tmp_path / "lake"
    write_handmade_lake(root)
    assert main(["lake", "index", "--lake", str(root), "--engine", "local", "--part-rows", "3"]) == 0
    assert '"engine": "local"' in capsys.readouterr().out
    assert len(Lake.open(str(root)).files("batch_users")) > 1
    with pytest.raises(SystemExit):
        main(["lake", "index", "--lake", str(root), "--engine", "hadoop"])


def test_the_spark_extra_pins_the_spark_of_the_emr_release_the_job_names():
    import tomllib

    from exhaust.lake import spark_index

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert f"pyspark=={spark_index.SPARK_VERSION}" in pyproject["project"]["optional-dependencies"]["spark"]
    assert spark_index.EMR_RELEASE_LABEL == "emr-7.9.0"  # Spark 3.5.5 by EMR Serverless's release notes
    pyspark = pytest.importorskip("pyspark")
    assert pyspark.__version__ == spark_index.SPARK_VERSION


def test_a_reader_that_found_the_tables_reads_them_whole_while_another_index_is_published(tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    expected = Lake.open(str(root)).read("batch_users", between={"batch_id": ("B1", "B2")})
    reader = Lake.open(str(root))
    pieces = reader.pieces("batch_users", between={"batch_id": ("B1", "B2")})  # the footers read now

    index_lake(Lake.open(str(root)), part_rows=2)  # other parts, other bytes, published meanwhile

    found = pa.Table.from_batches([batch for piece in pieces for batch in reader.read_piece(piece)])
    assert found.equals(expected)
    assert Lake.open(str(root)).read("batch_users", between={"batch_id": ("B1", "B2")}).equals(expected)
    assert len(Lake.open(str(root)).files("batch_users")) > len(reader.files("batch_users"))


def current(root: Path) -> dict:
    pointer = Lake.open(str(root)).current_files("batch_users")
    assert pointer is not None
    return dict(pointer)


def run_folders(root: Path, table: str) -> set[str]:
    return {path.name for path in (root / table / index_parts.RUNS_DIR).iterdir()}


def test_a_replaced_run_stays_for_the_grace_and_goes_with_a_later_index(tmp_path, monkeypatch):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    first = current(root)
    index_lake(Lake.open(str(root)), full=True)
    second = current(root)
    assert second["retired"][0]["run"] == first["run"]
    assert run_folders(root, "batch_users") == {first["run"], second["run"]}  # a reader may still be on the first

    monkeypatch.setattr(index_parts, "RETIRED_RUN_GRACE_SECONDS", 0)
    index_lake(Lake.open(str(root)), full=True)
    third = current(root)
    assert run_folders(root, "batch_users") == {second["run"], third["run"]}  # the first's grace is over
    assert [entry["run"] for entry in third["retired"]] == [second["run"]]


def test_a_crashed_run_is_removed_once_a_day_old_and_a_running_one_is_left(tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    runs = root / "batch_users" / index_parts.RUNS_DIR
    for name, age in (("crashed", index_parts.ORPHAN_AGE_SECONDS + 60), ("running", 60)):
        (runs / name).mkdir()
        part = runs / name / "part-00000.parquet"
        part.write_bytes(b"partial")
        when = dt.datetime.now(dt.UTC).timestamp() - age
        os.utime(part, (when, when))

    index_lake(Lake.open(str(root)))

    assert "crashed" not in run_folders(root, "batch_users")
    assert "running" in run_folders(root, "batch_users")


def test_a_lake_indexed_before_the_pointer_is_read_until_the_first_publish_then_cleaned(tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    expected = Lake.open(str(root)).read("batch_users")
    legacy = root / "batch_users" / "part-00000.parquet"  # the layout of earlier versions: files in the folder
    (published,) = current(root)["files"]
    legacy.write_bytes((root / "batch_users" / published).read_bytes())
    for table in DERIVED_TABLES:
        (root / table / "_current.json").unlink()
    assert Lake.open(str(root)).read("batch_users").equals(expected)

    old = dt.datetime.now(dt.UTC).timestamp() - index_parts.RETIRED_RUN_GRACE_SECONDS - 60
    os.utime(legacy, (old, old))
    index_lake(Lake.open(str(root)))

    assert not legacy.exists()
    assert Lake.open(str(root)).read("batch_users").equals(expected)


def test_the_spark_drivers_consent_collections_are_the_catalogs(tmp_path):
    """The Spark job's driver reads three columns instead of a catalog: the same collections ask for consent."""
    from exhaust.lake import schemas
    from exhaust.lake.catalog import Catalog
    from exhaust.lake.materialized import consent_collections, consent_collections_of

    from tests.unit.handmade_lake import BATCHES, COLLECTIONS, batch

    lake = write_handmade_lake(tmp_path / "lake")
    (asking,) = [row for row in COLLECTIONS if row["collection_id"] == "C1"]
    more = [
        {**asking, "collection_id": "C5"},  # asks for consent, no batch
        {**asking, "collection_id": "C6", "status": None},  # no status: not retired
        {**asking, "collection_id": "C7", "requires_consent": None},  # no flag: does not ask
    ]
    lake.write("collections", pa.Table.from_pylist([*COLLECTIONS, *more], schema=schemas.COLLECTIONS))
    batches = [*BATCHES, batch("B6", "C6", "b6"), batch("B7", "C7", "b7"), batch("B8", "C404", "unknown course")]
    lake.write("batches", pa.Table.from_pylist(batches, schema=schemas.BATCHES))
    lake = Lake.open(str(tmp_path / "lake"))

    assert consent_collections_of(lake) == consent_collections(Catalog(lake)) == ["C1", "C6"]


def test_the_spark_readers_read_runs_of_row_groups_with_each_rows_place_in_its_file(tmp_path: Path) -> None:
    # A run of consecutive row groups is one read (a row group per batch made a read per batch); the rows and their
    # places (EVENT_ORDER: file number and row in the file) are those of reading each row group alone.
    from exhaust.lake import spark_index

    path = tmp_path / "part.parquet"
    pq.write_table(pa.table({"n": list(range(18))}), path, row_group_size=3)
    wanted = [0, 1, 3, 4, 5]
    descriptor = pa.RecordBatch.from_pylist(
        [{"path": str(path), "row_groups": wanted, "file": 2, "first_rows": [3 * index for index in wanted]}]
    )
    read = list(spark_index._row_groups(str(tmp_path), [descriptor], ["n"]))
    places = [place + row for place, batch in read for row in range(batch.num_rows)]
    values = [value for _, batch in read for value in batch.column("n").to_pylist()]
    assert values == [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17]
    assert places == [2 * index_parts.EVENT_ORDER_FILE + value for value in values]
    assert len(read) == 2  # two runs: row groups 0-1 and 3-5
