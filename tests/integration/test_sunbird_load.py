"""The Sunbird loading path in local mode: a small export in Sunbird's shape, made from the generator's lake, loaded
by the Spark job, then `lake check` and the index (issue 27, "From the platform's data into the lake")."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from exhaust_devkit.lake.check import check_lake

from tests.integration.test_spark_index import spark  # noqa: F401 - the session-scoped Spark session

pytest.importorskip("pyspark")
pytestmark = pytest.mark.xdist_group("spark")

TODAY = dt.date(2026, 12, 1)
UNTIL = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
LOADED = ("batches", "enrolments", "users", "user_identifiers", "consents", "org_consents", "assessment_attempts")
# What Sunbird's tables do not hold, so the lake gets null: the content's title (the content platform's), the phone
# and e-mail a user gives with an org consent.
NOT_IN_SUNBIRD = {"assessment_attempts": ("content_title",), "org_consents": ("org_phone", "org_email")}


def rows(root: Path, table: str) -> list[dict[str, Any]]:
    return pq.read_table(root / table).to_pylist() if (root / table).exists() else []


def iso(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def text_maps(json_text: str | None) -> list[dict[str, str]] | None:
    """Sunbird keeps a question's options and response as a list of text maps."""
    if json_text is None:
        return None
    return [{key: str(value) for key, value in item.items()} for item in json.loads(json_text)]


def sunbird_tables(lake: Path) -> dict[str, list[dict[str, Any]]]:
    """The generator's lake in the shape of Sunbird's tables (as a Cassandra export of them holds it)."""
    identifiers = {row["user_id"]: row for row in rows(lake, "user_identifiers")}
    batches = [
        {
            "batchid": b["batch_id"],
            "courseid": b["collection_id"],
            "name": b["name"],
            "enrollmenttype": b["enrolment_type"],
            "startdate": iso(b["start_date"]),
            "enddate": iso(b["end_date"]),
            "createdby": b["created_by"],
            **({"mentors": b["mentors"]} if "mentors" in b else {}),
        }
        for b in rows(lake, "batches")
    ]
    enrolments = [
        {
            "batchid": e["batch_id"],
            "userid": e["user_id"],
            "courseid": e["collection_id"],
            "enrolled_date": e["enrolled_on"],
            "completedon": e["completed_on"],
            "status": e["status"],
            "contentstatus": {content: 2 for content in e["completed_contents"]} | {"do_started": 1},
            "issued_certificates": [
                {
                    "identifier": c["certificate_id"],
                    "name": c["name"],
                    "status": c["status"],
                    "lastIssuedOn": iso(c["issued_on"]),
                }
                for c in e["certificates"]
            ],
        }
        for e in rows(lake, "enrolments")
    ]
    users = [
        {
            "userid": u["user_id"],
            "firstname": u["name"],
            "lastname": None,
            **{key: u[key] for key in ("state", "district", "block", "cluster", "board", "email", "phone")},
            "schoolid": u["school_id"],
            "schoolname": u["school_name"],
            "schooludisecode": identifiers.get(u["user_id"], {}).get("school_udise_id"),
            "orgname": u["org_name"],
            "usertype": u["user_type"],
            "usersubtype": u["user_sub_type"],
            "declaredorg": u["declared_org"],
            "rootorgid": u["root_org_id"],
            "externalid": identifiers.get(u["user_id"], {}).get("external_id"),
        }
        for u in rows(lake, "users")
    ]
    consents = [
        {"user_id": c["user_id"], "consumer_id": c["consumer_id"], "object_id": c["collection_id"],
         "object_type": "Collection", "status": c["status"], "last_updated_on": c["consented_on"], "expiry": None}
        for c in rows(lake, "consents")
    ] + [
        {"user_id": c["user_id"], "consumer_id": c["consumer_id"], "object_id": c["consumer_id"],
         "object_type": "Organisation", "status": c["status"], "last_updated_on": c["consented_on"],
         "expiry": None if c["expires_on"] is None else dt.datetime.combine(c["expires_on"], dt.time(), dt.UTC)}
        for c in rows(lake, "org_consents")
    ]  # fmt: skip
    aggregates: dict[tuple[str, ...], dict[str, Any]] = {}
    for a in rows(lake, "assessment_attempts"):
        key = (a["batch_id"], a["user_id"], a["content_id"], a["attempt_id"])
        aggregate = aggregates.setdefault(
            key,
            {"course_id": a["collection_id"], "batch_id": a["batch_id"], "user_id": a["user_id"],
             "content_id": a["content_id"], "attempt_id": a["attempt_id"], "last_attempted_on": a["attempted_on"],
             "question": []},
        )  # fmt: skip
        aggregate["question"].append(
            {"id": a["question_id"], "max_score": a["question_max_score"], "score": a["question_score"],
             "type": a["question_type"], "title": a["question_title"],
             "resvalues": text_maps(a["question_response"]), "params": text_maps(a["question_options"]),
             "description": a["question_description"], "duration": a["question_duration"]}
        )  # fmt: skip
    return {
        "course_batch": batches,
        "user_enrolments": enrolments,
        "user": users,
        "user_consent": consents,
        "assessment_aggregator": list(aggregates.values()),
    }


TEXT_MAPS = pa.list_(pa.map_(pa.string(), pa.string()))
PARQUET_TYPES = {
    "contentstatus": pa.map_(pa.string(), pa.int32()),
    "issued_certificates": TEXT_MAPS,
    "question": pa.list_(
        pa.struct(
            [("id", pa.string()), ("max_score", pa.float64()), ("score", pa.float64()), ("type", pa.string()),
             ("title", pa.string()), ("resvalues", TEXT_MAPS), ("params", TEXT_MAPS), ("description", pa.string()),
             ("duration", pa.float64())]
        )
    ),
}  # fmt: skip


def write_export(tables: dict[str, list[dict[str, Any]]], out: Path, export_format: str) -> None:
    for name, records in tables.items():
        (out / name).mkdir(parents=True)
        if export_format == "parquet":
            columns = {}
            for column in records[0]:
                values = [record[column] for record in records]
                if column == "contentstatus":
                    values = [list(value.items()) for value in values]
                if column == "issued_certificates":
                    values = [[list(item.items()) for item in value] for value in values]
                if column == "question":
                    values = [
                        [{**q, "resvalues": _pairs(q["resvalues"]), "params": _pairs(q["params"])} for q in value]
                        for value in values
                    ]
                columns[column] = pa.array(values, type=PARQUET_TYPES.get(column))
            pq.write_table(pa.table(columns), out / name / "part-0.parquet")
        else:
            with (out / name / "part-0.csv").open("w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=list(records[0]))
                writer.writeheader()
                for record in records:
                    writer.writerow({key: _csv_cell(value) for key, value in record.items()})


def _pairs(maps: list[dict[str, str]] | None) -> list[list[tuple[str, str]]] | None:
    return None if maps is None else [list(item.items()) for item in maps]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def expected(source: Path, table: str) -> list[dict[str, Any]]:
    found = []
    for row in rows(source, table):
        if table == "user_identifiers" and row["school_udise_id"] is None and row["external_id"] is None:
            continue  # a profile without either identifier has nothing to say here
        for column in NOT_IN_SUNBIRD.get(table, ()):
            row[column] = None
        if table == "enrolments":
            row["completed_contents"] = sorted(row["completed_contents"])
        if table == "assessment_attempts":
            for column in ("question_options", "question_response"):  # Spark's to_json: compact, UTF-8 as is
                row[column] = json.dumps(text_maps(row[column]), separators=(",", ":"), ensure_ascii=False)
        found.append(row)
    return found


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    from exhaust_devkit.lake.generator import generate

    root = tmp_path_factory.mktemp("source") / "lake"
    generate("tiny", 1, str(root), today=TODAY)
    return root


def target_lake(source: Path, root: Path) -> Path:
    """A lake holding what the content platform and the event pipeline give (collections, question types...), as a
    Sunbird deployment's lake would before its first load from the export."""
    root.mkdir(parents=True)
    for table in ("collections", "question_types", "registration_consents", "telemetry", "observations"):
        shutil.copytree(source / table, root / table)
    return root


@pytest.mark.parametrize("export_format", ["parquet", "csv"])
def test_a_sunbird_export_loads_into_a_lake_that_passes_the_check_and_indexes(spark, source, tmp_path, export_format):  # noqa: F811
    from exhaust.lake.materialized import index_lake
    from exhaust.lake.store import Lake
    from exhaust.lake.sunbird_load import load_sunbird

    export = tmp_path / "export"
    write_export(sunbird_tables(source), export, export_format)
    lake = target_lake(source, tmp_path / "lake")

    written = load_sunbird(
        spark, str(export), str(lake), export_format=export_format, part_rows=40, available_until=UNTIL
    )

    for table in LOADED:
        assert rows(lake, table) == expected(source, table), table
        assert written[table] == len(expected(source, table)), table
    assert len(list((lake / "enrolments").glob("*.parquet"))) > 1  # cut into key ranges, each a sorted part
    assert not (lake / "_loading").exists()
    report = check_lake(str(lake), full=True, now=UNTIL + dt.timedelta(days=1))
    assert [v.describe() for v in report.violations] == []
    index_lake(Lake.open(str(lake)))
    assert check_lake(str(lake), full=True, now=UNTIL + dt.timedelta(days=1)).ok
    assert Lake.open(str(lake)).read("batch_users").num_rows == len(rows(source, "enrolments"))


def test_a_failed_load_leaves_the_lake_as_it_was(spark, source, tmp_path):  # noqa: F811
    from exhaust.lake.sunbird_load import load_sunbird

    tables = sunbird_tables(source)
    del tables["assessment_aggregator"]  # the export misses a table: the load fails once the others are staged
    write_export(tables, tmp_path / "export", "parquet")
    lake = target_lake(source, tmp_path / "lake")
    shutil.copytree(source / "enrolments", lake / "enrolments")
    before = {path.name: path.read_bytes() for path in (lake / "enrolments").iterdir()}

    with pytest.raises(Exception, match="assessment_aggregator"):
        load_sunbird(spark, str(tmp_path / "export"), str(lake))

    assert {path.name: path.read_bytes() for path in (lake / "enrolments").iterdir()} == before
    assert not (lake / "batches").exists()
    assert not (lake / "_loading").exists()
