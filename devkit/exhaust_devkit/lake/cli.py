"""`exhaust lake generate` writes the synthetic lake; `exhaust lake index` rewrites its derived tables; `exhaust lake
check` validates a lake against the contract."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

from exhaust.lake.sunbird_arguments import add_sunbird_load_arguments

# Spelled out so that `exhaust --help` does not load pyarrow; a unit test keeps them equal to the generator's.
SCALE_NAMES = ("tiny", "small", "medium", "large", "answers")
DEFAULT_PARTNER_ID = "org.sample.partner"
ENGINES = ("local", "spark")
# A lake of any size shaped like the platform (exhaust_devkit.lake.platform_generator), sized by --enrolments.
PLATFORM = "platform"
# exhaust.lake.index_parts.PART_ROWS (a unit test keeps them equal).
PART_ROWS = 500_000


def _generate(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.scale == PLATFORM:
        return _generate_platform(args, started)
    if args.enrolments is not None:
        print(f"--enrolments sizes the {PLATFORM} scale only", file=sys.stderr)
        return 2
    from exhaust_devkit.lake.generator import generate

    samples = generate(
        args.scale,
        args.seed,
        args.out,
        channel=args.channel,
        today=dt.date.fromisoformat(args.today) if args.today else None,
        partner_id=args.partner_id,
    )
    print(json.dumps({"out": args.out, "scale": args.scale, "seconds": round(time.monotonic() - started, 1),
                      "samples": samples}, indent=2))  # fmt: skip
    return 0


def _generate_platform(args: argparse.Namespace, started: float) -> int:
    from exhaust_devkit.lake.platform_generator import generate_platform

    if args.enrolments is None or args.enrolments < 1:
        print(f"--scale {PLATFORM} needs --enrolments N (N at least 1)", file=sys.stderr)
        return 2
    today = dt.date.fromisoformat(args.today) if args.today else None
    shape = generate_platform(args.enrolments, args.seed, args.out, channel=args.channel, today=today)
    print(json.dumps({**shape, "out": args.out, "scale": PLATFORM, "seconds": round(time.monotonic() - started, 1)}))
    return 0


def _index(args: argparse.Namespace) -> int:
    from exhaust.lake.index_parts import LakeContractError

    started = time.monotonic()
    try:
        if args.engine == "spark":
            from exhaust.lake.spark_index import index_lake_with_spark, local_session

            spark = local_session(args.cores)
            try:
                rows = index_lake_with_spark(spark, args.lake, part_rows=args.part_rows, full=args.full)
            finally:
                spark.stop()
        else:
            from exhaust.lake.materialized import index_lake
            from exhaust.lake.store import Lake

            rows = index_lake(Lake.open(args.lake), part_rows=args.part_rows, full=args.full)
    except LakeContractError as refused:
        print(json.dumps({"lake": args.lake, "refused": str(refused)}), file=sys.stderr)
        return 2
    seconds = round(time.monotonic() - started, 1)
    print(json.dumps({"lake": args.lake, "engine": args.engine, **rows, "seconds": seconds}))
    return 0


def _check(args: argparse.Namespace) -> int:
    from exhaust_devkit.lake.check import check_lake, lines

    report = check_lake(args.lake, full=args.full)
    for line in lines(report):
        print(line)
    return 0 if report.ok else 1


def _load_sunbird(args: argparse.Namespace) -> int:
    from exhaust.lake.sunbird_load import local_session, run

    spark = local_session(args.cores)
    try:
        return run(spark, args)
    finally:
        spark.stop()


def register(commands: Any) -> None:
    """Add `lake generate`, `lake index` and `lake check` to the `exhaust` command's subparsers."""
    lake = commands.add_parser("lake", help="the data lake the builders read")
    actions = lake.add_subparsers(dest="lake_command", required=True)
    generate = actions.add_parser(
        "generate",
        help="write a deterministic synthetic lake",
        description="Write a deterministic synthetic lake and print its sample ids (docs/lake.md).",
    )
    generate.add_argument(
        "--scale", choices=(*SCALE_NAMES, PLATFORM), default="small", help="how big (small; docs/lake.md)"
    )
    generate.add_argument("--enrolments", type=int, help=f"with --scale {PLATFORM}: how many enrolments")
    generate.add_argument("--seed", type=int, default=1, help="same seed, same lake (1)")
    generate.add_argument("--out", required=True, help="a directory or s3://bucket/prefix")
    generate.add_argument("--channel", default="local-channel", help="the channel (org) owning the courses")
    generate.add_argument("--today", help="yyyy-mm-dd the dates are relative to (default: today, UTC)")
    generate.add_argument("--partner-id", default=DEFAULT_PARTNER_ID, help="the telemetry sample's partner")
    generate.set_defaults(run=_generate)
    index = actions.add_parser(
        "index",
        help="rewrite the lake's derived tables after loading it",
        description="Rewrite the derived tables (docs/lake.md): batch_users (each enrolment's profile, best "
        "attempts and progress-exhaust line, by batch), userinfo_lines and response_lines (the finished lines of "
        "those datasets). progress-exhaust refuses a stale batch_users; userinfo- and response-exhaust compute "
        "their rows from the tables while their lines are stale.",
    )
    index.add_argument("--lake", required=True, help="the lake root: a directory or s3://bucket/prefix")
    index.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process (small lakes); spark: the Spark job in local mode, as EMR Serverless runs it "
        "(needs the `spark` extra and Java 17; docs/lake.md)",
    )
    index.add_argument("--part-rows", type=int, default=PART_ROWS, help=f"rows per part file ({PART_ROWS:,})")
    index.add_argument(
        "--full",
        action="store_true",
        help="index every batch; without it only the batches a load of enrolments, users or attempts touched are "
        "indexed again, when the previous run recorded what it read (docs/lake.md, incremental runs)",
    )
    index.add_argument("--cores", type=int, help="Spark's local cores (default: every core)")
    index.set_defaults(run=_index)
    check = actions.add_parser(
        "check",
        help="validate every table of a lake against the contract",
        description="Check every table against the lake contract (docs/lake.md): columns and types, non-null "
        "columns, sort order, row groups and their statistics, and the completeness marker. Prints each violation "
        "with its table, column and first offending row; exits 1 on any. Reads footers and each file's first and "
        "last row group unless --full.",
    )
    check.add_argument("--lake", required=True, help="the lake root: a directory or s3://bucket/prefix")
    check.add_argument("--full", action="store_true", help="read every row group, not a sample")
    check.set_defaults(run=_check)
    load = actions.add_parser(
        "load-sunbird",
        help="load a Sunbird export (Parquet or CSV) into the lake with Spark",
        description="Map a Sunbird export's course_batch, user_enrolments, user, user_consent and "
        "assessment_aggregator tables to the lake's tables with Spark in local mode (docs/lake.md, Loading from "
        "Sunbird); then run `exhaust lake check` and `exhaust lake index`. Needs the `spark` extra and Java 17.",
    )
    add_sunbird_load_arguments(load)
    load.add_argument("--cores", type=int, help="Spark's local cores (default: all)")
    load.set_defaults(run=_load_sunbird)
