"""`exhaust lake generate` writes the synthetic lake; `exhaust lake index` rewrites its derived tables."""

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
    from exhaust.lake.extracts import write_batch_users
    from exhaust.lake.store import Lake

    started = time.monotonic()
    rows = write_batch_users(Lake.open(args.lake))
    print(json.dumps({"lake": args.lake, "batch_users": rows, "seconds": round(time.monotonic() - started, 1)}))
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
    generate.add_argument("--scale", choices=SCALE_NAMES, default="small", help="how big (small; docs/lake.md)")
    generate.add_argument("--seed", type=int, default=1, help="same seed, same lake (1)")
    generate.add_argument("--out", required=True, help="a directory or s3://bucket/prefix")
    generate.add_argument("--channel", default="local-channel", help="the channel (org) owning the courses")
    generate.add_argument("--today", help="yyyy-mm-dd the dates are relative to (default: today, UTC)")
    generate.add_argument("--partner-id", default=DEFAULT_PARTNER_ID, help="the telemetry sample's partner")
    generate.set_defaults(run=_generate)
    index = actions.add_parser(
        "index",
        help="rewrite the lake's batch_users extract after loading enrolments, users or attempts",
        description="Rewrite the batch_users extract (each enrolment's profile and best attempts, by batch) from "
        "enrolments, users and assessment_attempts (docs/lake.md). The builders refuse a batch whose extract "
        "does not match its enrolments.",
    )
    index.add_argument("--lake", required=True, help="the lake root: a directory or s3://bucket/prefix")
    index.set_defaults(run=_index)
