"""userinfo- and response-exhaust lines stored by `exhaust lake index`, used only while their sources are current.

Before: both datasets were computed at every build (the consents read live), about 5x and 1.6x their floor for
the large lake's big batch. Now the index stores their finished lines, each table recording the files it derives
from; a build streams them while those are the lake's files and computes its rows live otherwise, so a consent
loaded after the index counts at the very next build, and both paths write the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import pyzipper
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.builders.common import encode_csv
from exhaust.builders.errors import NoDataFound
from exhaust.lake import schemas
from exhaust.lake.extracts import LakeNotIndexed
from exhaust.lake.materialized import (
    RESPONSE_LINES,
    USERINFO_LINES,
    index_lake,
    stale_derived_tables,
    write_userinfo_lines,
)
from exhaust.lake.store import CURRENT_FILES, Lake
from exhaust.lake.values import csv_lines
from exhaust_devkit.lake.generator import OTHER_ORG, generate
from exhaust_devkit.lake.metering import CountingHandler

from tests.unit.handmade_lake import CHANNEL, QUESTION_TYPES, at, consent, write_handmade_lake

DAY = dt.date(2026, 11, 2)
PASSWORD = "materialized-pw"
USER_UUID = 4
RESPONSE_COLUMN = 17


def csv_bytes(
    root: str | Lake, tmp_path: Path, dataset: str, batch_id: str, channel: str = CHANNEL
) -> tuple[str, bytes]:
    """Where the build's rows came from ("index" or "live") and its CSV's bytes."""
    path = tmp_path / f"{dataset}-{batch_id}-{channel}.zip"
    summary = build_batch_zip(BatchBuild(dataset, batch_id, channel, PASSWORD, root, DAY), path)
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(PASSWORD.encode())
        (name,) = archive.namelist()
        return summary.rows_from, archive.read(name)


def rows_of(text: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.decode(), newline="")))


def registration_responses(text: bytes) -> list[tuple[str, str]]:
    """(User UUID, Question Response) of the rows whose question type needs registration consent."""
    return [(row[USER_UUID], row[RESPONSE_COLUMN]) for row in rows_of(text)[1:] if row[10] == "registration"]


def without(root: str, tables: tuple[str, ...], copy: Path) -> str:
    """A copy of the lake without the given tables (as a lake indexed by an older version would be)."""
    shutil.copytree(root, copy)
    for table in tables:
        shutil.rmtree(copy / table)
    return str(copy)


def append_file(root: str, table: str, rows: list[dict[str, object]], schema: pa.Schema) -> None:
    """A loader that appends each day's events as a new file of the table (the index's files left as they are)."""
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), f"{root}/{table}/part-00001.parquet")


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(write_handmade_lake(tmp_path / "lake").root)


@pytest.fixture(scope="module")
def tiny_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("tiny") / "lake"
    samples = generate("tiny", 7, str(root), channel="ch-tiny", today=dt.date(2026, 11, 2))
    return str(root), samples


@pytest.mark.parametrize(
    ("dataset", "batch_id", "channel"),
    [
        ("userinfo-exhaust", "B1", CHANNEL),
        ("userinfo-exhaust", "B1", "other-org"),
        ("userinfo-exhaust", "B2", CHANNEL),
        ("response-exhaust", "B1", CHANNEL),
        ("response-exhaust", "B2", CHANNEL),
    ],
)
def test_the_index_lines_and_the_live_rows_are_the_same_bytes_on_the_golden_lake(
    root: str, tmp_path: Path, dataset: str, batch_id: str, channel: str
) -> None:
    live_root = without(root, (USERINFO_LINES, RESPONSE_LINES), tmp_path / "live")
    source, stored = csv_bytes(root, tmp_path, dataset, batch_id, channel)
    live_source, live = csv_bytes(live_root, tmp_path, dataset, batch_id, channel)
    assert (source, live_source) == ("index", "live")
    assert stored == live
    assert len(rows_of(stored)) > 1


def test_the_index_lines_and_the_live_rows_are_the_same_bytes_on_a_generated_lake(
    tiny_lake: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    root, samples = tiny_lake
    live_root = without(root, (USERINFO_LINES, RESPONSE_LINES), tmp_path / "live")
    lake = Lake.open(root)
    consent_batches = [
        row["batch_id"]
        for row in lake.read("batches").to_pylist()
        if lake.read("collections", equals={"collection_id": row["collection_id"]})["requires_consent"][0].as_py()
    ]
    channels = (samples["channel"], OTHER_ORG)
    cases = [("userinfo-exhaust", batch_id, channel) for batch_id in consent_batches for channel in channels]
    cases += [("response-exhaust", samples["responseBatchId"], samples["channel"])]
    compared = 0
    for dataset, batch_id, channel in cases:
        try:
            source, stored = csv_bytes(root, tmp_path, dataset, batch_id, channel)
        except NoDataFound:
            with pytest.raises(NoDataFound):
                csv_bytes(live_root, tmp_path, dataset, batch_id, channel)
            continue
        assert source == "index"
        assert csv_bytes(live_root, tmp_path, dataset, batch_id, channel) == ("live", stored)
        compared += 1
    assert compared >= 4


def test_the_stored_lines_encode_every_value_as_the_builders_csv_writer_does() -> None:
    text = ["plain", 'a "quote"', "comma, here", "new\nline", "cr\r\nlf", "", None, "चार", "😀"]
    numbers = [0.0, 12.5, 1.0, 0.1 + 0.2, 1e20, 1e-7, float("nan"), float("inf"), None]
    columns = [
        pa.array(text),
        pa.array(text).dictionary_encode(),
        pa.array(numbers),
        pa.array([0, -3, 10**12, None, 5, 6, 7, 8, 9], pa.int64()),
    ]
    assert "".join(csv_lines(columns).to_pylist()).encode() == encode_csv(columns).to_pybytes()


def test_a_revocation_loaded_after_the_index_counts_at_the_next_build_then_the_index_serves_it(
    root: str, tmp_path: Path
) -> None:
    source, before = csv_bytes(root, tmp_path, "userinfo-exhaust", "B2")
    assert source == "index"
    assert [row[USER_UUID] for row in rows_of(before)[1:]] == ["u1", "u5"]

    append_file(root, "consents", [consent("u1", CHANNEL, "REVOKED", at("2026-10-20"))], schemas.CONSENTS)
    assert stale_derived_tables(Lake.open(root)) == {
        USERINFO_LINES: "was derived from other files of consents than the lake holds now"
    }
    source, after = csv_bytes(root, tmp_path, "userinfo-exhaust", "B2")
    assert source == "live"
    assert [row[USER_UUID] for row in rows_of(after)[1:]] == ["u5"]

    index_lake(Lake.open(root))
    assert csv_bytes(root, tmp_path, "userinfo-exhaust", "B2") == ("index", after)


def test_a_grant_loaded_after_the_index_adds_the_user_at_the_next_build(root: str, tmp_path: Path) -> None:
    append_file(root, "consents", [consent("u3", CHANNEL, "ACTIVE", at("2026-10-20"))], schemas.CONSENTS)
    source, after = csv_bytes(root, tmp_path, "userinfo-exhaust", "B1")
    assert source == "live"
    assert [(row[USER_UUID], row[12]) for row in rows_of(after)[1:]] == [("u1", "05/09/2026"), ("u3", "20/10/2026")]


def test_a_registration_consent_loaded_after_the_index_counts_at_the_next_response_build(
    root: str, tmp_path: Path
) -> None:
    source, before = csv_bytes(root, tmp_path, "response-exhaust", "B2")
    assert source == "index"
    assert registration_responses(before) == [("u1", '{"district": "Mysuru"}'), ("u5", "")]

    renewed = [
        {"collection_id": "C1", "user_id": "u5", "status": "ACTIVE", "consented_on": at("2026-10-20")},
        {"collection_id": "C1", "user_id": "u1", "status": "REVOKED", "consented_on": at("2026-10-20")},
    ]
    append_file(root, "registration_consents", renewed, schemas.REGISTRATION_CONSENTS)
    source, after = csv_bytes(root, tmp_path, "response-exhaust", "B2")
    assert source == "live"
    assert registration_responses(after) == [("u1", ""), ("u5", '{"district": "Chennai"}')]


def test_question_types_that_appear_after_the_index_make_the_response_lines_stale(tmp_path: Path) -> None:
    lake = write_handmade_lake(tmp_path / "lake")
    shutil.rmtree(lake.table_dir("question_types"))
    index_lake(Lake.open(lake.root))  # recorded as absent: no type needs consent
    source, before = csv_bytes(lake.root, tmp_path, "response-exhaust", "B2")
    assert source == "index"
    assert registration_responses(before) == [("u1", '{"district": "Mysuru"}'), ("u5", '{"district": "Chennai"}')]

    Lake.open(lake.root).write("question_types", pa.Table.from_pylist(QUESTION_TYPES, schema=schemas.QUESTION_TYPES))
    assert stale_derived_tables(Lake.open(lake.root)) == {
        RESPONSE_LINES: "was derived from other files of question_types than the lake holds now"
    }
    source, after = csv_bytes(lake.root, tmp_path, "response-exhaust", "B2")
    assert source == "live"
    assert registration_responses(after) == [("u1", '{"district": "Mysuru"}'), ("u5", "")]


def test_lines_missing_from_an_older_version_or_not_covering_the_collection_fall_back_to_live(
    root: str, tmp_path: Path
) -> None:
    _, expected = csv_bytes(root, tmp_path, "userinfo-exhaust", "B2")
    lake = Lake.open(root)
    lake.write(USERINFO_LINES, lake.read(USERINFO_LINES))  # no record of its sources, as an older version wrote
    assert csv_bytes(root, tmp_path, "userinfo-exhaust", "B2") == ("live", expected)

    # Fresh, but recording no line of C1 (an index that did not cover the collection): not an empty answer.
    fresh = Lake.open(root)
    write_userinfo_lines(fresh)
    pointer_path = Path(fresh.table_dir(USERINFO_LINES)) / CURRENT_FILES
    pointer = json.loads(pointer_path.read_text())
    pointer["consumers"] = {}
    pointer_path.write_text(json.dumps(pointer))
    assert csv_bytes(root, tmp_path, "userinfo-exhaust", "B2") == ("live", expected)

    shutil.rmtree(lake.table_dir(USERINFO_LINES))
    assert csv_bytes(root, tmp_path, "userinfo-exhaust", "B2") == ("live", expected)


def test_an_org_without_any_consent_event_gets_no_data_found_from_the_index_without_reading_profiles(
    root: str, tmp_path: Path
) -> None:
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), root)
    with pytest.raises(NoDataFound):
        build_batch_zip(BatchBuild("userinfo-exhaust", "B1", "ch-z", PASSWORD, lake, DAY), tmp_path / "none.zip")
    assert not (tmp_path / "none.zip").exists()
    assert handler.bytes_read["batch_users"] == 0
    assert handler.bytes_read["consents"] == 0
    # The same answer live, where the consents are read.
    live_root = without(root, (USERINFO_LINES,), tmp_path / "live")
    with pytest.raises(NoDataFound):
        csv_bytes(live_root, tmp_path, "userinfo-exhaust", "B1", "ch-z")


def test_a_userinfo_build_from_the_index_reads_neither_profiles_nor_consents(root: str, tmp_path: Path) -> None:
    handler = CountingHandler()
    lake = Lake(pafs.PyFileSystem(handler), root)
    summary = build_batch_zip(BatchBuild("userinfo-exhaust", "B2", CHANNEL, PASSWORD, lake, DAY), tmp_path / "u.zip")
    assert (summary.rows, summary.rows_from) == (2, "index")
    assert handler.bytes_read[USERINFO_LINES] > 0
    assert handler.bytes_read["batch_users"] == handler.bytes_read["consents"] == 0


def test_userinfo_lines_written_over_a_stale_batch_users_never_serve_its_old_profiles(
    root: str, tmp_path: Path
) -> None:
    lake = Lake.open(root)
    users = lake.read("users").to_pylist()
    lake.write("users", pa.Table.from_pylist([{**row, "name": f"{row['name']} (new)"} for row in users],
                                             schema=schemas.USERS))  # fmt: skip
    write_userinfo_lines(Lake.open(root))  # without re-indexing batch_users: the lines hold its old profiles

    with pytest.raises(LakeNotIndexed, match="other files of users"):
        csv_bytes(root, tmp_path, "userinfo-exhaust", "B2")
    index_lake(Lake.open(root))
    source, text = csv_bytes(root, tmp_path, "userinfo-exhaust", "B2")
    assert source == "index"
    assert all(row[5].endswith(" (new)") for row in rows_of(text)[1:])
