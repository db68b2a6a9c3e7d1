"""Load a Sunbird export into the lake: a Spark job beside the index job (docs/lake.md, "Loading from Sunbird").

    python -m exhaust.lake.sunbird_load --export s3://bucket/export --lake s3://bucket/lake   (EMR Serverless)
    exhaust lake load-sunbird --export DIR|s3://... --lake DIR|s3://...                       (Spark in local mode)

The export holds one folder per Sunbird table, of Parquet or CSV files (`--format`): `course_batch`,
`user_enrolments`, `assessment_aggregator` (keyspace sunbird_courses), `user_consent` and `user` (the user
cache's flattened profile: names, locations, school, org and type as Sunbird resolves them). Map, list and
user-defined-type columns come as themselves in Parquet, as JSON text in CSV. Spark maps them to the lake's
tables (batches, enrolments, users, user_identifiers, consents, org_consents, assessment_attempts), cuts each into
key ranges and writes every range as a part file sorted by the table's key, its row groups cut as the lake's writer
cuts them (exhaust.lake.index_parts.RowGroupWriter); the parts are staged and moved into place once every table is
written, so a failed load leaves the lake as it was. Then: `exhaust lake check`, and the index.

Not in these tables, so not loaded: collections (the course hierarchy comes from the content platform's search
API), question types, registration consents, telemetry and observations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs

from exhaust.lake.index_parts import RowGroupWriter
from exhaust.lake.schemas import CERTIFICATE_ISSUED, TABLES
from exhaust.lake.store import Lake, sort_table
from exhaust.lake.sunbird_arguments import SUNBIRD_EXPORT_FORMATS, SUNBIRD_PART_ROWS
from exhaust.readiness import parse_instant, write_marker

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# Rows per part file the load aims at (a part is one Spark task's sorted range).
PART_ROWS = SUNBIRD_PART_ROWS
FORMATS = SUNBIRD_EXPORT_FORMATS
STAGING_DIR = "_loading"
# Sunbird's user_consent.object_type of a course consent and of an org-level one.
COURSE_CONSENT = "Collection"
ORG_CONSENT = "Organisation"
# user_enrolments.contentstatus: a content's status 2 is completed (Sunbird's course progress).
CONTENT_COMPLETED = 2


def _nested_types() -> dict[str, dict[str, Any]]:
    """Per export table, the Spark types of its collection columns (read from JSON text in CSV exports)."""
    from pyspark.sql import types as T

    text_maps = T.ArrayType(T.MapType(T.StringType(), T.StringType()))
    question = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("max_score", T.DoubleType()),
            T.StructField("score", T.DoubleType()),
            T.StructField("type", T.StringType()),
            T.StructField("title", T.StringType()),
            T.StructField("resvalues", text_maps),
            T.StructField("params", text_maps),
            T.StructField("description", T.StringType()),
            T.StructField("duration", T.DoubleType()),
        ]
    )
    return {
        "user_enrolments": {
            "contentstatus": T.MapType(T.StringType(), T.IntegerType()),
            "issued_certificates": text_maps,
        },
        "assessment_aggregator": {"question": T.ArrayType(question)},
        "course_batch": {"mentors": T.ArrayType(T.StringType())},
    }


def read_export(spark: SparkSession, export: str, table: str, export_format: str) -> DataFrame:
    """One Sunbird table of the export, its collection columns typed whatever the format."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    path = f"{export.rstrip('/')}/{table}"
    if export_format == "csv":
        frame = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(path)
    else:
        frame = spark.read.parquet(path)
    for column, kind in _nested_types().get(table, {}).items():
        if column in frame.columns and isinstance(frame.schema[column].dataType, T.StringType):
            frame = frame.withColumn(column, F.from_json(column, kind))
    return frame


def _timestamp(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(name).cast("timestamp")


def lake_tables(spark: SparkSession, export: str, export_format: str) -> dict[str, DataFrame]:
    """The lake's tables, as Spark frames with (some of) their columns, from the export's tables."""
    from pyspark.sql import functions as F

    def read(table: str) -> DataFrame:
        return read_export(spark, export, table, export_format)

    batches = read("course_batch")
    enrolments = read("user_enrolments")
    users = read("user")
    consents = read("user_consent")
    aggregates = read("assessment_aggregator")

    # issued_certificates: a map per certificate (identifier, name, lastIssuedOn; status when not issued).
    certificates = F.expr(
        "transform(issued_certificates, c -> named_struct('certificate_id', c['identifier'], 'name', c['name'], "
        f"'status', coalesce(c['status'], '{CERTIFICATE_ISSUED}'), 'issued_on', cast(c['lastIssuedOn'] as timestamp)))"
    )
    no_certificates = F.expr(
        "cast(array() as array<struct<certificate_id:string,name:string,status:string,issued_on:timestamp>>)"
    )
    completed = F.array_sort(
        F.map_keys(F.map_filter("contentstatus", lambda _, status: status == F.lit(CONTENT_COMPLETED)))
    )
    batch_columns = {
        "batch_id": F.col("batchid"),
        "collection_id": F.col("courseid"),
        "name": F.col("name"),
        "enrolment_type": F.col("enrollmenttype"),
        "start_date": F.to_date("startdate"),
        "end_date": F.to_date("enddate"),
        "created_by": F.col("createdby"),
    }
    if "mentors" in batches.columns:
        batch_columns["mentors"] = F.col("mentors")
    questions = aggregates.select("*", F.posexplode("question").alias("position", "q"))
    course_consents = consents.where(F.col("object_type") == COURSE_CONSENT)
    org_consents = consents.where(F.col("object_type") == ORG_CONSENT)
    return {
        "batches": batches.select(*[column.alias(name) for name, column in batch_columns.items()]),
        "enrolments": enrolments.select(
            F.col("batchid").alias("batch_id"),
            F.col("userid").alias("user_id"),
            F.col("courseid").alias("collection_id"),
            _timestamp("enrolled_date").alias("enrolled_on"),
            _timestamp("completedon").alias("completed_on"),
            F.col("status").cast("byte").alias("status"),
            F.coalesce(completed, F.array().cast("array<string>")).alias("completed_contents"),
            F.coalesce(certificates, no_certificates).alias("certificates"),
        ),
        "users": users.select(
            F.col("userid").alias("user_id"),
            F.nullif(F.concat_ws(" ", "firstname", "lastname"), F.lit("")).alias("name"),
            "state",
            "district",
            "block",
            "cluster",
            F.col("schoolid").alias("school_id"),
            F.col("schoolname").alias("school_name"),
            F.col("orgname").alias("org_name"),
            "board",
            F.col("usertype").alias("user_type"),
            F.col("usersubtype").alias("user_sub_type"),
            F.col("declaredorg").alias("declared_org"),
            "email",
            "phone",
            F.col("rootorgid").alias("root_org_id"),
        ),
        "user_identifiers": users.where(F.col("schooludisecode").isNotNull() | F.col("externalid").isNotNull()).select(
            F.col("userid").alias("user_id"),
            F.col("schooludisecode").alias("school_udise_id"),
            F.col("externalid").alias("external_id"),
        ),
        "consents": course_consents.select(
            F.col("object_id").alias("collection_id"),
            "consumer_id",
            "user_id",
            "status",
            _timestamp("last_updated_on").alias("consented_on"),
        ),
        "org_consents": org_consents.select(
            "consumer_id",
            "user_id",
            "status",
            _timestamp("last_updated_on").alias("consented_on"),
            F.to_date(_timestamp("expiry")).alias("expires_on"),
        ),
        "assessment_attempts": questions.select(
            "batch_id",
            "user_id",
            F.col("course_id").alias("collection_id"),
            "content_id",
            "attempt_id",
            _timestamp("last_attempted_on").alias("attempted_on"),
            F.col("position").cast("short").alias("question_index"),
            F.col("q.id").alias("question_id"),
            F.col("q.type").alias("question_type"),
            F.col("q.title").alias("question_title"),
            F.col("q.description").alias("question_description"),
            F.col("q.duration").alias("question_duration"),
            F.col("q.score").alias("question_score"),
            F.col("q.max_score").alias("question_max_score"),
            F.to_json("q.params").alias("question_options"),
            F.to_json("q.resvalues").alias("question_response"),
        ),
    }


def _to_contract(frame: pa.Table, table: str) -> pa.Table:
    """The lake table's columns in its types (absent ones null); Spark's microsecond timestamps to milliseconds."""
    schema = TABLES[table].schema
    columns = []
    for field in schema:
        if field.name in frame.column_names:
            columns.append(frame[field.name].cast(field.type, safe=False))
        else:
            columns.append(pa.nulls(frame.num_rows, field.type))
    return pa.table(columns, schema=schema)


def _part_writer(
    lake_uri: str, table: str, staging: str
) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    """A mapInArrow function: a task's key range, sorted by the table's key, written as one staged part file."""

    def write(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        received = [batch for batch in batches if batch.num_rows]
        if not received:
            return
        rows = pa.Table.from_batches(received)
        context = TaskContext.get()
        part = context.partitionId() if context else 0
        lake = Lake.open(lake_uri)
        spec = TABLES[table]
        writer = RowGroupWriter(lake.filesystem, f"{staging}/{table}/part-{part:05d}.parquet", spec, {})
        writer.add(sort_table(spec, _to_contract(rows, table)))
        yield pa.RecordBatch.from_pylist([{"table": table, "rows": writer.close()}])

    return write


def _publish(lake: Lake, staging: str, tables: list[str]) -> None:
    """Each table's staged parts replace its files (the other tables' and the staging folder are left as found)."""
    for table in tables:
        staged = pafs.FileSelector(f"{staging}/{table}", allow_not_found=True)
        parts = sorted(info.path for info in lake.filesystem.get_file_info(staged) if info.type == pafs.FileType.File)
        names = {path.rsplit("/", 1)[-1] for path in parts}
        lake.filesystem.create_dir(lake.table_dir(table), recursive=True)
        for path in parts:
            lake.filesystem.move(path, f"{lake.table_dir(table)}/{path.rsplit('/', 1)[-1]}")
        current = pafs.FileSelector(lake.table_dir(table), allow_not_found=True)
        for info in lake.filesystem.get_file_info(current):
            if info.type == pafs.FileType.File and info.base_name not in names:
                lake.filesystem.delete_file(info.path)
        lake.forget(table)


def _discard(lake: Lake, staging: str) -> None:
    """Remove this load's staging folder, and the folder of loads once no other load uses it."""
    if lake.filesystem.get_file_info(staging).type != pafs.FileType.NotFound:
        lake.filesystem.delete_dir(staging)
    loads = f"{lake.root}/{STAGING_DIR}"
    if lake.filesystem.get_file_info(loads).type == pafs.FileType.Directory and not lake.filesystem.get_file_info(
        pafs.FileSelector(loads)
    ):
        lake.filesystem.delete_dir(loads)


def load_sunbird(
    spark: SparkSession,
    export: str,
    lake_uri: str,
    *,
    export_format: str = "parquet",
    part_rows: int = PART_ROWS,
    available_until: dt.datetime | None = None,
) -> dict[str, int]:
    """Load the export's tables into the lake (replacing those tables); rows written per table.

    With `available_until`, the completeness marker says so once every table is in place.
    """
    from pyspark.sql import functions as F

    if export_format not in FORMATS:
        raise ValueError(f"--format: one of {', '.join(FORMATS)}")
    lake = Lake.open(lake_uri)
    staging = f"{lake.root}/{STAGING_DIR}/{uuid.uuid4().hex}"
    written: dict[str, int] = {}
    try:
        for table, frame in lake_tables(spark, export, export_format).items():
            spec = TABLES[table]
            parts = max(1, math.ceil(frame.count() / part_rows))
            ranges = frame.repartitionByRange(parts, *[F.col(name).asc_nulls_last() for name in spec.sort_key])
            counts = ranges.mapInArrow(_part_writer(lake_uri, table, staging), "table string, rows long").collect()
            written[table] = sum(row["rows"] for row in counts)
        _publish(lake, staging, list(written))
    finally:
        _discard(lake, staging)
    if available_until is not None:
        write_marker(lake_uri, available_until, "sunbird-load")
    return written


def local_session(cores: int | None = None) -> SparkSession:
    from exhaust.lake.spark_index import local_session as index_session

    return index_session(cores)


def main(argv: list[str] | None = None) -> int:
    """The job's entry point: load the export at --export into the lake at --lake; print the rows as JSON."""
    from exhaust.lake.sunbird_arguments import add_sunbird_load_arguments

    parser = argparse.ArgumentParser(prog="python -m exhaust.lake.sunbird_load", description=__doc__.splitlines()[0])
    add_sunbird_load_arguments(parser)
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    # Under spark-submit (EMR Serverless) the session is configured by the job run; alone, Spark runs locally.
    spark = (
        SparkSession.builder.appName("exhaust-sunbird-load").config("spark.sql.session.timeZone", "UTC").getOrCreate()
    )
    try:
        return run(spark, args)
    finally:
        spark.stop()


def run(spark: SparkSession, args: argparse.Namespace) -> int:
    until = None
    if args.data_available_until:
        until = dt.datetime.fromtimestamp(parse_instant(args.data_available_until) / 1000, dt.UTC)
    started = time.monotonic()
    rows = load_sunbird(
        spark, args.export, args.lake, export_format=args.format, part_rows=args.part_rows, available_until=until
    )
    print(json.dumps({"lake": args.lake, "loaded": rows, "seconds": round(time.monotonic() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
