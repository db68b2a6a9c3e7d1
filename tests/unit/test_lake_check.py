"""`exhaust lake check` on deliberately broken lakes: each break is reported with its table, column and first
offending row, and the command exits 1; the generator's lake passes (issue 27, "From the platform's data")."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from exhaust.lake.schemas import TABLES
from exhaust.readiness import MARKER_NAME
from exhaust_devkit.cli import main
from exhaust_devkit.lake.check import check_lake

TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from exhaust_devkit.lake.generator import generate

    root = tmp_path_factory.mktemp("generated") / "lake"
    generate("tiny", 1, str(root), today=TODAY)
    return root


@pytest.fixture
def lake(generated, tmp_path) -> Path:
    """A copy of the generated lake, for one test to break."""
    copy = tmp_path / "lake"
    shutil.copytree(generated, copy)
    return copy


def table_of(lake: Path, name: str) -> pa.Table:
    return pq.read_table(lake / name)


def rewrite(lake: Path, name: str, change: Callable[[pa.Table], pa.Table], **write_options) -> None:
    """Replace a table by one file of `change(table)`, written as the options say (no sorting, no splitting)."""
    table = change(table_of(lake, name))
    shutil.rmtree(lake / name)
    (lake / name).mkdir()
    pq.write_table(table, lake / name / "part-00000.parquet", **write_options)


def problems(lake: Path, *, full: bool = False) -> list[str]:
    return [violation.describe() for violation in check_lake(str(lake), full=full, now=NOW).violations]


def run(capsys, *arguments: str) -> tuple[int, list[str]]:
    status = main(["lake", "check", *arguments])
    return status, capsys.readouterr().out.splitlines()


def test_the_generators_lake_follows_the_contract(generated, capsys):
    assert problems(generated) == []
    assert problems(generated, full=True) == []
    status, out = run(capsys, "--lake", str(generated), "--full")
    assert status == 0
    assert out[-1].startswith(f"OK: {len(TABLES)} tables follow the contract")


def test_a_missing_column_is_named_with_its_table_and_the_command_fails(lake, capsys):
    rewrite(lake, "users", lambda t: t.drop_columns(["email"]))
    status, out = run(capsys, "--lake", str(lake))
    assert status == 1
    assert "users.email: missing column (part-00000.parquet)" in out
    assert out[-1].startswith("FAILED: 1 violations")


def test_a_column_of_another_type(lake):
    rewrite(lake, "enrolments", lambda t: t.set_column(5, "status", pc.cast(t["status"], pa.int64())))
    assert problems(lake) == ["enrolments.status: type int64, the contract says int8 (part-00000.parquet)"]


def test_timestamps_in_another_unit(lake):
    index = TABLES["consents"].schema.get_field_index("consented_on")
    rewrite(
        lake,
        "consents",
        lambda t: t.set_column(index, "consented_on", t["consented_on"].cast(pa.timestamp("us", "UTC"))),
    )
    assert problems(lake) == [
        "consents.consented_on: type timestamp[us, tz=UTC], the contract says timestamp[ms, tz=UTC] "
        "(part-00000.parquet)"
    ]


def test_a_column_the_contract_does_not_have(lake):
    rewrite(lake, "batches", lambda t: t.append_column("notes", pa.array([None] * t.num_rows, pa.string())))
    assert problems(lake) == ["batches.notes: column not in the contract (part-00000.parquet)"]


def test_a_null_where_the_contract_says_never_names_the_first_offending_row(lake):
    def null_third(table: pa.Table) -> pa.Table:
        values = table["collection_id"].to_pylist()
        values[2] = None
        return table.set_column(1, "collection_id", pa.array(values, pa.string()))

    rewrite(lake, "batches", null_third)
    (found,) = problems(lake)
    first_line, second_line = found.splitlines()
    assert first_line == "batches.collection_id: null in a column the contract says is never null"
    batch_id = table_of(lake, "batches")["batch_id"][2].as_py()
    assert second_line.strip() == (
        f'first offending row: #2 of part-00000.parquet {{"batch_id": "{batch_id}", "collection_id": null}}'
    )


def test_rows_out_of_sort_order(lake):
    def swap_first_two(table: pa.Table) -> pa.Table:
        order = list(range(table.num_rows))
        order[0], order[1] = order[1], order[0]
        return table.take(order)

    rewrite(lake, "users", swap_first_two)
    (found,) = problems(lake)
    assert found.startswith(
        "users.user_id: rows out of sort-key order\n    first offending row: #0 of part-00000.parquet"
    )


def test_disorder_inside_a_middle_row_group_needs_the_full_check(lake):
    def swap_in_the_middle(table: pa.Table) -> pa.Table:
        order = list(range(table.num_rows))
        order[5], order[6] = order[6], order[5]  # inside the second of four-row groups: its min and max unchanged
        return table.take(order)

    rewrite(lake, "users", swap_in_the_middle, row_group_size=4)
    assert problems(lake) == []  # the sample reads the first and last row groups only
    (found,) = problems(lake, full=True)
    assert found.startswith(
        "users.user_id: rows out of sort-key order\n    first offending row: #5 of part-00000.parquet"
    )


def test_files_out_of_order_in_their_names(lake):
    table = table_of(lake, "collections")
    shutil.rmtree(lake / "collections")
    (lake / "collections").mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(half), lake / "collections" / "part-00000.parquet")
    pq.write_table(table.slice(0, half), lake / "collections" / "part-00001.parquet")
    (found,) = problems(lake)
    assert found.startswith(
        "collections.collection_id: rows out of sort-key order (after the rows before, in part-00000.parquet)\n"
        "    first offending row: #0 of part-00001.parquet"
    )


def test_a_row_group_larger_than_the_tables(lake):
    rows = 40_000
    names = pa.array([f"type-{n:06d}" for n in range(rows)])
    question_types = pa.table({"question_type": names, "requires_registration_consent": pa.array([False] * rows)})
    rewrite(lake, "question_types", lambda _: question_types, row_group_size=rows)
    assert problems(lake) == [
        "question_types: row group 0 holds 40000 rows, over the table's 32768\n"
        "    first offending row: #32768 of part-00000.parquet"
    ]


def test_a_row_group_mixing_two_batches(lake):
    rewrite(lake, "enrolments", lambda t: t, row_group_size=1_000_000)
    (found,) = problems(lake)
    assert found.startswith(
        "enrolments.batch_id: a row group holds more than one value of its split columns\n"
        "    first offending row: #0 of part-00000.parquet"
    )


def test_a_file_without_statistics_on_its_sort_key(lake):
    rewrite(lake, "users", lambda t: t, write_statistics=False)
    assert problems(lake) == [
        "users.user_id: row group 0 has no min/max statistics on this sort-key column (readers cannot skip it) "
        "(part-00000.parquet)"
    ]


def test_a_missing_table(lake):
    shutil.rmtree(lake / "enrolments")
    assert problems(lake) == ["enrolments: missing: the table has no Parquet file"]


def test_optional_and_derived_tables_may_be_absent(lake):
    for name in ("telemetry", "observations", "batch_users", "userinfo_lines", "response_lines"):
        shutil.rmtree(lake / name)
    assert problems(lake) == []


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (None, f"{MARKER_NAME}: missing: the loader writes it after each load (docs/lake.md)"),
        (
            {"dataAvailableUntil": "2026-12-01T00:00:00"},
            f"{MARKER_NAME}.dataAvailableUntil: dataAvailableUntil is not an ISO 8601 instant with its UTC offset "
            "('2026-12-01T00:00:00' has no UTC offset)",
        ),
        (
            {"dataAvailableUntil": "2026-12-09T00:00:00Z"},
            f"{MARKER_NAME}.dataAvailableUntil: 2026-12-09T00:00:00+00:00 is in the future: no load can be complete "
            "then",
        ),
    ],
)
def test_the_completeness_marker(lake, marker, expected):
    path = lake / MARKER_NAME
    if marker is None:
        path.unlink()
    else:
        path.write_text(json.dumps(marker))
    assert problems(lake) == [expected]


def test_every_violation_is_printed_before_the_summary(lake, capsys):
    rewrite(lake, "users", lambda t: t.drop_columns(["phone"]))
    (lake / MARKER_NAME).unlink()
    status, out = run(capsys, "--lake", str(lake), "--full")
    assert status == 1
    assert out == [
        "users.phone: missing column (part-00000.parquet)",
        f"{MARKER_NAME}: missing: the loader writes it after each load (docs/lake.md)",
        f"FAILED: 2 violations in {lake} ({len(TABLES)} tables read; every row group read)",
    ]


def test_an_enrolment_listed_twice(lake):
    def repeat_second(table: pa.Table) -> pa.Table:
        return table.take([0, 1, *range(1, table.num_rows)])

    rewrite(lake, "enrolments", repeat_second, row_group_size=1_000_000)
    found = problems(lake)
    duplicate = [p for p in found if "the same key twice" in p]
    assert len(duplicate) == 1
    assert duplicate[0].startswith(
        "enrolments.batch_id, user_id: the same key twice (a duplicate row)\n"
        "    first offending row: #2 of part-00000.parquet"
    )


@pytest.mark.parametrize(
    ("table", "change"),
    [
        ("users", lambda t: t.drop_columns(["state"])),
        ("enrolments", lambda t: t.set_column(5, "status", pc.cast(t["status"], pa.int64()))),
        ("consents", lambda t: t.set_column(4, "consented_on", t["consented_on"].cast(pa.timestamp("ms", "+00:00")))),
    ],
)
def test_the_check_refuses_what_the_index_refuses(lake, table, change):
    from exhaust.lake.index_parts import LakeContractError, check_columns
    from exhaust.lake.store import Lake

    rewrite(lake, table, change)
    with pytest.raises(LakeContractError):
        check_columns(Lake.open(str(lake)))
    assert any(p.startswith(f"{table}.") for p in problems(lake))
