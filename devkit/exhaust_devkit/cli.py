"""The `exhaust` command of the dev kit: local mode and administration of a local or deployed service; `exhaust client`
is the partner client's command line (exhaust_client.cli)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exhaust import __version__
from exhaust.errors import ServiceError
from exhaust_client import client
from exhaust_client.cli import Parser, describe_unexpected, run
from exhaust_client.client import ClientError

from exhaust_devkit import deploy_check
from exhaust_devkit.auth import cli as auth_cli
from exhaust_devkit.lake import cli as lake_cli
from exhaust_devkit.standard import cli as standard_cli

# How soon the main thread notices a signal another thread received.
SIGNAL_CHECK_SECONDS = 0.2


def _run_local(args: argparse.Namespace) -> int:
    from exhaust_devkit.local.runtime import STOP_DEADLINE_SECONDS, LocalService, LocalSetupError

    service = LocalService(
        host=args.host,
        port=args.port,
        credentials_file=Path(args.credentials_file),
        state_dir=Path(args.state_dir),
        fresh=args.fresh,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        credentials = service.start()
    except FileNotFoundError as failure:
        service.stop()
        raise ClientError(
            f"the kept state in {service.state_dir} is damaged: {failure.filename} is missing; "
            "start with --fresh (FRESH=1 make run) to begin again"
        ) from None
    except OSError as failure:
        service.stop()
        if failure.errno == errno.EADDRINUSE:
            raise ClientError(
                f"port {args.port} on {args.host} is already in use: stop what uses it, or pick another port "
                f"(PORT=9000 make run, or --port 0 for any free one)"
            ) from None
        raise
    except LocalSetupError as failure:
        service.stop()
        raise ClientError(str(failure)) from None
    restored = "restored from" if service.restored else "state kept in"
    _say(
        f"exhaust local mode ready at {credentials['baseUrl']} "
        f"(credentials in {args.credentials_file}, {restored} {service.state_dir}, "
        f"moto at {credentials['awsEndpoint']})"
    )
    # A timed wait, never a bare one: the kernel may deliver SIGTERM to any of the service's threads, and then a
    # main thread blocked in an untimed wait is never woken to run the Python handler (CPython runs handlers only
    # in the main thread, when it next checks for them); each timeout is such a check.
    while not stop.wait(SIGNAL_CHECK_SECONDS):
        pass
    # The stop's parts are bounded, but whatever one meets (a call stuck in moto, a busy machine), the process
    # leaves within the 5 seconds a stop may take; every answered change is already in the journal.
    watchdog = threading.Timer(STOP_DEADLINE_SECONDS, _stopped_late)
    watchdog.daemon = True
    watchdog.start()
    service.stop()
    _say("exhaust local mode stopped; its state is kept for the next start (--fresh starts empty)")
    # Builds still running in worker threads would hold the interpreter's exit (concurrent.futures joins its
    # threads at exit); their state is journaled and their requests resume at the next start, so leave now.
    os._exit(0)


def _stopped_late() -> None:
    _say("exhaust local mode stopped before its stop finished; every answered change is kept")
    os._exit(0)


def _say(line: str) -> None:
    """A line of local mode's, written if its output is still read: a closed terminal or a reader that left must
    not stop the service from ending (a broken pipe here once skipped the exit, and the interpreter's own exit then
    waited for the builds)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="exhaust", description=__doc__)
    parser.add_argument("--version", action="version", version=f"exhaust {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser(
        "local",
        help="run the whole service on this machine against moto",
        description="Run the whole service on this machine against moto: the API on real HTTP, the pipeline, the "
        "daily producer. State (requests, files, tokens, license keys, the lake) is kept in --state-dir and "
        "restored at the next start. EXHAUST_* settings are honoured as the stack passes them (docs/configuration.md).",
    )
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    local.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="port of the API (8080, or $PORT; 0 picks a free one)",
    )
    local.add_argument(
        "--credentials-file",
        default=".exhaust/local.json",
        help="where to write the base URL, tokens, license key and sample ids (.exhaust/local.json)",
    )
    local.add_argument(
        "--state-dir", default=".exhaust/state", help="where local mode keeps its state between runs (.exhaust/state)"
    )
    local.add_argument(
        "--fresh", action="store_true", help="forget the kept state and start empty (new tokens, new sample data)"
    )
    local.set_defaults(run=_run_local)
    auth_cli.register(commands)
    lake_cli.register(commands)
    standard_cli.register(commands)
    client.register(commands)
    deploy_check.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; every failure is one line on stderr and a non-zero exit status, never a traceback."""
    return run(build_parser().parse_args(argv), prog="exhaust", refusals=(ServiceError,), describe=_describe_unexpected)


def _describe_unexpected(failure: Exception) -> str:
    """AWS SDK failures (no local mode behind the endpoint, refused calls) as one line; anything else named."""
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError as AwsClientError

    if isinstance(failure, AwsClientError):
        error = failure.response.get("Error", {})
        return f"AWS answered {error.get('Code')}: {error.get('Message')}"
    if isinstance(failure, BotoCoreError):
        return f"{failure}; is local mode running (make run), or are your AWS credentials set?"
    return describe_unexpected(failure)


if __name__ == "__main__":
    sys.exit(main())
