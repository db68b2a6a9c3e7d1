"""`exhaust lake generate` writes the synthetic lake; `exhaust lake index` rewrites its derived tables; `exhaust lake
check` validates a lake against the contract."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from typing import Any

# Spelled out so that `exhaust --help` does not load pyarrow; a unit test keeps them equal to the generator's.
SCALE_NAMES = ("tiny", "small", "medium", "large", "answers")
DEFAULT_PARTNER_ID = "org.sample.partner"


def _generate(args: argparse.Namespace) -> int:
    from exhaust.lake.generator import generate

    started = time.monotonic()
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


def _index(args: argparse.Namespace) -> int:
    from exhaust.lake.materialized import index_lake
    from exhaust.lake.store import Lake

    started = time.monotonic()
    rows = index_lake(Lake.open(args.lake))
    print(json.dumps({"lake": args.lake, **rows, "seconds": round(time.monotonic() - started, 1)}))
    return 0


def _check(args: argparse.Namespace) -> int:
    from exhaust.lake.check import check_lake, lines

    report = check_lake(args.lake, full=args.full)
    for line in lines(report):
        print(line)
    return 0 if report.ok else 1


def register(commands: Any) -> None:
    """Add `lake generate`, `lake index` and `lake check` to the `exhaust` command's subparsers."""
    lake = commands.add_parser("lake", help="the data lake the builders read")
    actions = lake.add_subparsers(dest="lake_command", required=True)
    generate = actions.add_parser(
        "generate",
        help="write a deterministic synthetic lake",
        description="Write a deterministic synthetic lake and print its sample ids (docs/lake.md).",
    )
    generate.add_argument("--scale", choices=SCALE_NAMES, default="small", help="how big (small; docs/lake.md)")
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
