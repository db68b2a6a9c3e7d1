"""`exhaust produce`: build the standard datasets of a day or a range of days (a backfill).

Against local mode by default (its credentials file names the moto endpoint); with `--env`, against the
resources the EXHAUST_* environment variables name (a deployed stack, with the usual AWS credentials).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from exhaust_client.client import read_local_credentials

if TYPE_CHECKING:
    from exhaust.settings import RuntimeSettings


def _settings(args: argparse.Namespace) -> RuntimeSettings:
    from exhaust import aws, resources
    from exhaust.resources import LocalNames
    from exhaust.settings import RuntimeSettings

    if args.env:
        return RuntimeSettings.from_environ()
    local = read_local_credentials(args.local_credentials, "start local mode with `make run`, or use --env")
    os.environ["AWS_ENDPOINT_URL"] = str(local.get("awsEndpoint") or "")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    aws.reset_clients()
    names = LocalNames()
    return RuntimeSettings(
        exhaust_bucket=names.bucket(resources.EXHAUST_BUCKET),
        public_bucket=names.bucket(resources.PUBLIC_BUCKET),
        lake_bucket=names.bucket(resources.LAKE_BUCKET),
    )


def day(value: str) -> str:
    """A yyyy-mm-dd that exists (2026-02-30 does not), refused by argparse before anything is read."""
    from exhaust.errors import BadRequest
    from exhaust.standard.dates import parse_day

    try:
        return parse_day("date", value).isoformat()
    except BadRequest:
        raise argparse.ArgumentTypeError(f"'{value}' is not a day in the yyyy-mm-dd format") from None


def _produce(args: argparse.Namespace) -> int:
    from exhaust.standard.producer import producer_from_settings, run

    event = {"date": args.date, "from": args.from_date, "to": args.to_date}
    result = run({name: value for name, value in event.items() if value}, producer_from_settings(_settings(args)))
    print(json.dumps(result, indent=2))
    return 0


def register(commands: Any) -> None:
    """Add `produce` to the `exhaust` command's subparsers."""
    produce = commands.add_parser(
        "produce",
        help="build the standard datasets (summary-rollup, public-summary-rollup) from the lake",
        description="Build the daily standard datasets of a day (default: yesterday) or a range (docs/datasets.md).",
    )
    produce.add_argument("--date", type=day, help="yyyy-mm-dd: one day")
    produce.add_argument("--from", dest="from_date", type=day, help="yyyy-mm-dd: first day of a backfill (with --to)")
    produce.add_argument("--to", dest="to_date", type=day, help="yyyy-mm-dd: last day of a backfill")
    produce.add_argument("--env", action="store_true", help="use the EXHAUST_* environment instead of local mode")
    produce.add_argument("--local-credentials", default=".exhaust/local.json", help="local mode's credentials file")
    produce.set_defaults(run=_produce)
