"""The `exhaust` command: local mode and administration of a local or deployed service."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exhaust import client
from exhaust.auth import cli as auth_cli
from exhaust.lake import cli as lake_cli
from exhaust.standard import cli as standard_cli


def _run_local(args: argparse.Namespace) -> int:
    from exhaust.local.runtime import LocalService

    service = LocalService(host=args.host, port=args.port, credentials_file=Path(args.credentials_file))
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        credentials = service.start()
        print(
            f"exhaust local mode ready at {credentials['baseUrl']} "
            f"(credentials in {args.credentials_file}, moto at {credentials['awsEndpoint']})",
            flush=True,
        )
        stop.wait()
    finally:
        service.stop()
    print("exhaust local mode stopped", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exhaust", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the whole service on this machine against moto")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    local.add_argument("--credentials-file", default=".exhaust/local.json")
    local.set_defaults(run=_run_local)
    auth_cli.register(commands)
    lake_cli.register(commands)
    standard_cli.register(commands)
    client.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
