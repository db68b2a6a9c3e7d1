"""`exhaust lake generate` writes the synthetic lake; `exhaust lake index` rewrites its derived tables."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

# Spelled out so that `exhaust --help` does not load pyarrow; a unit test keeps them equal to the generator's.
SCALE_NAMES = ("tiny", "small", "medium", "large", "answers")
DEFAULT_PARTNER_ID = "org.sample.partner"
ENGINES = ("local", "spark")
# A lake of any size shaped like the platform (exhaust.lake.platform_generator), sized by --enrolments.
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
    from exhaust.lake.generator import generate

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
    from exhaust.lake.platform_generator import generate_platform

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
                rows = index_lake_with_spark(spark, args.lake, part_rows=args.part_rows)
            finally:
                spark.stop()
        else:
            from exhaust.lake.materialized import index_lake
            from exhaust.lake.store import Lake

            rows = index_lake(Lake.open(args.lake), part_rows=args.part_rows)
    except LakeContractError as refused:
        print(json.dumps({"lake": args.lake, "refused": str(refused)}), file=sys.stderr)
        return 2
    seconds = round(time.monotonic() - started, 1)
    print(json.dumps({"lake": args.lake, "engine": args.engine, **rows, "seconds": seconds}))
    return 0


def register(commands: Any) -> None:
    """Add `lake generate` and `lake index` to the `exhaust` command's subparsers."""
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
    index.add_argument("--cores", type=int, help="Spark's local cores (default: every core)")
    index.set_defaults(run=_index)
