"""`exhaust-client`: a partner's command line of the request API (submit, read, list, search, cancel, delete,
download; the legacy and export APIs). The repository's `exhaust client ...` is the same commands."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from exhaust_client import __version__, client
from exhaust_client.client import ClientError, UsageError

INTERRUPTED_EXIT = 130  # 128 + SIGINT, what shells report for Ctrl-C
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what shells report for a writer whose reader left


class Parser(argparse.ArgumentParser):
    """argparse, with a refusal on one line that points at --help instead of the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="exhaust-client", description=client.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"exhaust-client {__version__}")
    client.add_commands(parser.add_subparsers(dest="client_command", required=True, metavar="COMMAND"))
    return parser


def describe_unexpected(failure: Exception) -> str:
    return f"unexpected {type(failure).__name__}: {failure} (a bug: please report it with the command you ran)"


def run(
    args: argparse.Namespace,
    *,
    prog: str,
    refusals: tuple[type[Exception], ...] = (),
    describe: Callable[[Exception], str] = describe_unexpected,
) -> int:
    """Run a parsed command; every failure is one line on stderr and a non-zero exit status, never a traceback.

    `refusals` are further exceptions whose message is the whole story (the dev kit's service errors); `describe`
    words any other failure."""

    def fail(message: str, code: int = 1) -> int:
        print(f"{prog}: error: {message}", file=sys.stderr)
        return code

    try:
        code = int(args.run(args))
        sys.stdout.flush()  # here, not at exit: a reader gone (a broken pipe) is then answered below
        return code
    except KeyboardInterrupt:
        return fail("interrupted; run it again to resume", INTERRUPTED_EXIT)
    except UsageError as failure:
        return fail(f"{failure} (see --help)", 2)
    except ClientError as failure:
        return fail(str(failure))
    except refusals as failure:
        return fail(str(failure))
    except BrokenPipeError:
        # The reader went away (`--json | head`): what it wanted it has; say nothing, as a Unix tool does.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    except (ConnectionError, TimeoutError, OSError) as failure:
        return fail(f"{failure}; is the service running (make run) and the address right?")
    except Exception as failure:
        return fail(describe(failure))


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv), prog="exhaust-client")


if __name__ == "__main__":
    sys.exit(main())
