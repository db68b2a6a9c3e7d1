"""A partner's client of the request API: submit, wait, read, list, search, cancel, delete, and verified downloads.

    exhaust-client submit --dataset progress-exhaust --batch-id B --encryption-key K --tag T --wait --out DIR
    exhaust-client read --tag T --request-id R
    exhaust-client list --tag T
    exhaust-client search --status SUCCESS
    exhaust-client download --tag T --request-id R --out DIR
    exhaust-client cancel --tag T --request-id R
    exhaust-client delete --tag T --request-id R
    exhaust-client legacy --dataset D --resource-id R --license-key K --out days.zip
    exhaust-client export --format csv --date-from D --types sensor --out export.zip

(In the repository, `exhaust client ...` runs the same commands.) Against local mode by default (the credentials file
gives the base URL, token and channel), or any deployment with --base-url, --token and --channel. Standard library
only. --json prints one JSON document instead of text. Waiting
reads after a second, then less and less often, and honours Retry-After; a download continues a `.part` file left
by an interrupted one (HTTP Range) and is checked against the sha256 that read reports before it is given its
final name."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

SUBMIT_PATH = "/api/dataset/v1/request/submit"
# File links per read page when the client follows filesNextCursor (the API allows 1..500).
READ_PAGE_LIMIT = 500
READ_PATH = "/api/dataset/v1/request/read/{tag}"
LIST_PATH = "/api/dataset/v1/request/list/{tag}"
SEARCH_PATH = "/api/dataset/v1/request/search"
# POST cancel (SUBMITTED, PROCESSING -> CANCELLED) and delete (a finished request's files), by tag and requestId.
LIFECYCLE_PATHS = {"cancel": "/api/dataset/v1/request/cancel/{tag}", "delete": "/api/dataset/v1/request/delete/{tag}"}
TERMINAL_STATUSES = ("SUCCESS", "FAILED", "CANCELLED")
RETRYABLE_STATUSES = (429, 503)
# Waiting: the first read after a second, each next one half as long again, never more than the cap apart.
FIRST_POLL_SECONDS = 1.0
POLL_BACKOFF = 1.5
MAX_POLL_SECONDS = 15.0
CHUNK_BYTES = 1024 * 1024


def file_sha256(path: Path) -> str:
    """As the service computes a file's sha256 (exhaust.digests; a test keeps the two equal), read in chunks."""
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


class ClientError(Exception):
    """The service refused or the exchange failed; the message says what the service answered."""


class UsageError(Exception):
    """The command line asks for something that cannot be done (a missing companion option, say)."""


NO_LOCAL_CREDENTIALS_HINT = "start local mode with `make run` in the repository, or pass --base-url, --token, --channel"


def read_local_credentials(path: str | Path, hint: str = NO_LOCAL_CREDENTIALS_HINT) -> dict[str, Any]:
    """Local mode's credentials file; its absence is a one-line error that says how to get one."""
    try:
        loaded = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ClientError(f"no local credentials file at {path}: {hint}") from None
    except (OSError, ValueError) as failure:
        raise ClientError(f"cannot read the local credentials file {path} ({failure}): {hint}") from None
    if not isinstance(loaded, dict):
        raise ClientError(f"the local credentials file {path} is not a JSON object: {hint}")
    return loaded


@dataclass
class ApiAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def result(self) -> dict[str, Any]:
        return dict(self.body.get("result") or {})

    def describe(self) -> str:
        params = self.body.get("params") or {}
        return f"HTTP {self.status} {params.get('err', '')}: {params.get('errmsg', '')}".strip()


@dataclass
class ExhaustClient:
    base_url: str
    token: str
    channel: str
    timeout_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr))
    progress: Callable[[str, int, int], None] = field(default=lambda name, done, total: None)

    def call(self, method: str, path: str, body: Any = None, *, authorized: bool = True) -> ApiAnswer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url.rstrip("/") + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        request.add_header("X-Channel-Id", self.channel)
        if authorized:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                status, raw, headers = answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as error:
            status, raw, headers = error.code, error.read(), dict(error.headers)
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise ClientError(f"{method} {path}: answered HTTP {status} with a body that is not JSON") from None
        return ApiAnswer(status, parsed if isinstance(parsed, dict) else {}, headers)

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = self.call("POST", SUBMIT_PATH, {"request": request})
        if answer.status != 200:
            raise ClientError(f"submit refused: {answer.describe()}{_retry_hint(answer)}")
        return answer.result

    def read(self, tag: str, request_id: str) -> dict[str, Any]:
        answer = self._read(tag, request_id)
        if answer.status != 200:
            raise ClientError(f"read refused: {answer.describe()}")
        return answer.result

    def _read(self, tag: str, request_id: str, cursor: str | None = None) -> ApiAnswer:
        parameters = {"requestId": request_id, **({"cursor": cursor, "limit": str(READ_PAGE_LIMIT)} if cursor else {})}
        query = urllib.parse.urlencode(parameters)
        return self.call("GET", READ_PATH.format(tag=urllib.parse.quote(tag, safe="")) + "?" + query)

    def all_files(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Every file of a read answer: read answers a page of links, `filesNextCursor` the next one."""
        files = list(result.get("files") or [])
        cursor = result.get("filesNextCursor")
        while cursor:
            answer = self._read(str(result["tag"]), str(result["requestId"]), str(cursor))
            if answer.status != 200:
                raise ClientError(f"read refused: {answer.describe()}")
            files += answer.result.get("files") or []
            cursor = answer.result.get("filesNextCursor")
        return files

    def list_requests(self, tag: str, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        query = urllib.parse.urlencode({name: value for name, value in (("limit", limit), ("cursor", cursor)) if value})
        answer = self.call(
            "GET", LIST_PATH.format(tag=urllib.parse.quote(tag, safe="")) + ("?" + query if query else "")
        )
        if answer.status != 200:
            raise ClientError(f"list refused: {answer.describe()}")
        return answer.result

    def search(self, filters: dict[str, str], limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"filters": filters}
        if limit is not None:
            body["limit"] = limit
        if cursor:
            body["cursor"] = cursor
        answer = self.call("POST", SEARCH_PATH, {"request": body})
        if answer.status != 200:
            raise ClientError(f"search refused: {answer.describe()}")
        return answer.result

    def cancel(self, tag: str, request_id: str) -> dict[str, Any]:
        """Cancel a SUBMITTED or PROCESSING request (again: the same answer); a finished one is refused (409)."""
        return self._lifecycle("cancel", tag, request_id)

    def delete(self, tag: str, request_id: str) -> dict[str, Any]:
        """Delete a finished request's files now (again: the same answer); an open one is refused (409)."""
        return self._lifecycle("delete", tag, request_id)

    def _lifecycle(self, operation: str, tag: str, request_id: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"requestId": request_id})
        path = LIFECYCLE_PATHS[operation].format(tag=urllib.parse.quote(tag, safe=""))
        answer = self.call("POST", f"{path}?{query}")
        if answer.status != 200:
            raise ClientError(f"{operation} refused: {answer.describe()}")
        return answer.result

    def wait(
        self,
        tag: str,
        request_id: str,
        *,
        timeout_seconds: float = 3600.0,
        interval_seconds: float = FIRST_POLL_SECONDS,
        max_interval_seconds: float = MAX_POLL_SECONDS,
    ) -> dict[str, Any]:
        """Read until SUCCESS, FAILED or CANCELLED, saying each change of status or progress.

        The first reads come quickly (most requests finish in seconds), then the wait grows by half each time up
        to `max_interval_seconds`; a 429 or 503 is waited out for as long as its Retry-After says.
        """
        deadline = time.monotonic() + timeout_seconds
        interval = interval_seconds
        last = None
        while True:
            answer = self._read(tag, request_id)
            pause = interval
            if answer.status in RETRYABLE_STATUSES:
                pause = _retry_after(answer) or interval
                self.say(f"the service is busy ({answer.describe()}); reading again in {pause:.0f} s")
            elif answer.status != 200:
                raise ClientError(f"read refused: {answer.describe()}")
            else:
                result = answer.result
                seen = (result.get("status"), _describe_progress(result.get("progress") or {}))
                if seen != last:
                    last = seen
                    self.say(f"{seen[0]} {seen[1]}".strip())
                if result.get("status") in TERMINAL_STATUSES:
                    return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError(
                    f"still {last[0] if last else 'unread'} after {timeout_seconds:.0f} s; "
                    "read the request later to see it finish"
                )
            self.sleep(min(pause, remaining))
            interval = min(interval * POLL_BACKOFF, max(max_interval_seconds, interval_seconds))

    def download(self, result: dict[str, Any], directory: Path) -> list[Path]:
        """Download every file of a SUCCESS answer into `directory`, resuming and verifying each. Nothing is
        created when there is nothing to download (a request not done, or whose files were deleted)."""
        if result.get("status") != "SUCCESS":
            raise ClientError(f"nothing to download: the request is {result.get('status')}")
        if result.get("deletedAt") or not (result.get("files") or result.get("filesTotal")):
            said = result.get("statusMessage") or "the request has no files"
            raise ClientError(f"nothing to download: {said}")
        directory.mkdir(parents=True, exist_ok=True)
        return [self._download_file(file, directory) for file in self.all_files(result)]

    def _download_file(self, file: dict[str, Any], directory: Path) -> Path:
        target = directory / Path(str(file["name"])).name  # a name, never a path from the answer
        if target.exists() and file_sha256(target) == file["sha256"]:
            self.say(f"{target.name}: already here, checksum ok")
            return target
        partial = target.with_name(target.name + ".part")
        offset = partial.stat().st_size if partial.exists() else 0
        # A presigned link carries its own credentials: no Authorization header (S3 refuses two).
        request = urllib.request.Request(str(file["url"]))  # noqa: S310
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        total = int(file.get("bytes") or 0)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                resumed = bool(offset) and answer.status == 206
                done = offset if resumed else 0
                self.say(f"{target.name}: {'resuming at ' + str(done) + ' of' if resumed else 'downloading'} "
                         f"{total or '?'} bytes")  # fmt: skip
                with partial.open("ab" if resumed else "wb") as sink:
                    # read1 and flush: what has arrived is on disk, so Ctrl-C keeps it for the resume.
                    while chunk := answer.read1(CHUNK_BYTES):
                        sink.write(chunk)
                        sink.flush()
                        done += len(chunk)
                        self.progress(target.name, done, total)
        except urllib.error.HTTPError as error:
            if not (error.code == 416 and offset):  # 416 on a resume: the part file is already whole
                raise ClientError(
                    f"{target.name}: the link answered HTTP {error.code}; read again for fresh links"
                ) from None
        if file_sha256(partial) != file["sha256"]:
            partial.unlink()
            raise ClientError(f"{target.name}: checksum mismatch, the partial file was removed; download again")
        partial.replace(target)
        self.say(f"{target.name}: {file.get('rows', '?')} rows, {target.stat().st_size} bytes, checksum ok")
        return target


class ProgressBar:
    """A byte progress bar redrawn in place on an interactive terminal; silent on anything else."""

    def __init__(self, stream: TextIO, width: int = 30):
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()

    def __call__(self, name: str, done: int, total: int) -> None:
        if not self.interactive:
            return
        fraction = min(1.0, done / total) if total else 0.0
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if total and done >= total else ""
        self.stream.write(f"\r{name} [{bar}] {fraction:4.0%} {_size(done)}/{_size(total)}{end}")
        self.stream.flush()


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _describe_progress(progress: dict[str, Any]) -> str:
    if not progress.get("batchesTotal"):
        return ""
    return f"{progress.get('batchesDone', 0)}/{progress['batchesTotal']} batches, {progress.get('rowsWritten', 0)} rows"


def add_poll_arguments(parser: argparse.ArgumentParser) -> None:
    """--interval and --max-interval: how often a waiting command reads the request (ExhaustClient.wait)."""
    parser.add_argument(
        "--interval",
        type=float,
        default=FIRST_POLL_SECONDS,
        help=f"seconds between the first reads ({FIRST_POLL_SECONDS:g})",
    )
    parser.add_argument(
        "--max-interval",
        type=float,
        default=MAX_POLL_SECONDS,
        help=f"the wait between reads grows to at most this many seconds ({MAX_POLL_SECONDS:g}); Retry-After wins",
    )


def _retry_after(answer: ApiAnswer) -> float | None:
    value = next((v for k, v in answer.headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _retry_hint(answer: ApiAnswer) -> str:
    seconds = _retry_after(answer) if answer.status in RETRYABLE_STATUSES else None
    return f" (try again in {seconds:.0f} s)" if seconds is not None else ""


def fetch_file(request: urllib.request.Request, target: Path, timeout_seconds: float = 300.0) -> int:
    """Save an answer that is a file; big answers are a 303 to a presigned link, which urllib follows with a GET.

    Answers the HTTP status (204: no rows, nothing written); an error answer raises ClientError with its errmsg.
    """
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:  # noqa: S310
            if answer.status == 204:
                return 204
            with target.open("wb") as sink:
                while chunk := answer.read(CHUNK_BYTES):
                    sink.write(chunk)
            return int(answer.status)
    except urllib.error.HTTPError as error:
        try:
            params = json.loads(error.read()).get("params") or {}
        except (ValueError, AttributeError):
            params = {}
        raise ClientError(f"HTTP {error.code} {params.get('err', '')}: {params.get('errmsg', '')}".strip()) from None


# -- the `exhaust client` commands ------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> ExhaustClient:
    base_url, token, channel = args.base_url, args.token, args.channel
    if not (base_url and token and channel):
        local = read_local_credentials(args.local_credentials)
        base_url = base_url or local.get("baseUrl")
        token = token or local.get("token")
        channel = channel or local.get("channel")
    if not (base_url and token and channel):
        raise ClientError(f"{args.local_credentials} lacks baseUrl, token or channel: {NO_LOCAL_CREDENTIALS_HINT}")
    quiet = args.json
    return ExhaustClient(
        base_url=base_url,
        token=token,
        channel=channel,
        say=(lambda _: None) if quiet else (lambda message: print(message, file=sys.stderr)),
        progress=ProgressBar(sys.stderr) if sys.stdout.isatty() and not quiet else lambda name, done, total: None,
    )


def _emit(args: argparse.Namespace, value: Any, human: Callable[[], None]) -> None:
    """--json: one JSON document on stdout; else the human form."""
    if args.json:
        print(json.dumps(value))
    else:
        human()


def _show_request(job: dict[str, Any]) -> None:
    print(f"{job.get('requestId')}  {job.get('status')}  tag {job.get('tag')}  {job.get('dataset')}")
    if job.get("statusMessage"):
        print(f"  {job['statusMessage']}")
    if progress := _describe_progress(job.get("progress") or {}):
        print(f"  {progress}")
    for file in job.get("files") or []:
        print(f"  {file.get('name')}  {file.get('rows')} rows  {_size(int(file.get('bytes') or 0))}")
    for event in job.get("audit") or []:
        print(f"  {_instant(event.get('at'))}  {event.get('action')} by {event.get('userId')} "
              f"(credential {event.get('credentialId')})")  # fmt: skip


def _instant(epoch_ms: Any) -> str:
    """An audit event's time as ISO 8601 UTC."""
    try:
        moment = dt.datetime.fromtimestamp(int(epoch_ms) / 1000, dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(epoch_ms)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _show_jobs(answer: dict[str, Any]) -> None:
    jobs = answer.get("jobs") or []
    for job in jobs:
        print(f"{job.get('requestId')}  {job.get('status'):<10} {job.get('dataset')}  tag {job.get('tag')}")
    print(
        f"{answer.get('count', len(jobs))} request(s)" + (" (more: --cursor NEXT)" if answer.get("nextCursor") else "")
    )
    if answer.get("nextCursor"):
        print(f"next cursor: {answer['nextCursor']}")


def _dataset_config(args: argparse.Namespace) -> dict[str, Any]:
    """The batch selector given, or {} (org-pii-exhaust: the organisation is the scope)."""
    if args.batch_id:
        return {"batchId": args.batch_id}
    if args.batch_filter:
        return {"batchFilter": args.batch_filter}
    if not args.search_filter:
        return {}
    text = args.search_filter
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as failure:
            raise UsageError(f"--search-filter: cannot read {text[1:]} ({failure.strerror})") from None
    try:
        search_filter = json.loads(text)
    except ValueError as failure:
        raise UsageError(f"--search-filter: not JSON ({failure})") from None
    return {"searchFilter": search_filter}


ENCRYPTION_KEY_VARIABLE = "EXHAUST_ENCRYPTION_KEY"


def _encryption_key(args: argparse.Namespace) -> str | None:
    """The zips' password: from a file, the environment or a prompt, so that it need not sit in `ps` and the shell
    history; --encryption-key on the command line still works."""
    given = [name for name in ("encryption_key", "encryption_key_file") if getattr(args, name)]
    if args.encryption_key_prompt:
        given.append("encryption_key_prompt")
    if len(given) > 1:
        raise UsageError(
            "give the encryption key one way: --encryption-key, --encryption-key-file or --encryption-key-prompt"
        )
    if args.encryption_key_file:
        try:
            lines = Path(args.encryption_key_file).read_text(encoding="utf-8").splitlines()
        except OSError as failure:
            raise UsageError(
                f"--encryption-key-file: cannot read {args.encryption_key_file} ({failure.strerror})"
            ) from None
        return lines[0] if lines else None
    if args.encryption_key_prompt:
        import getpass

        return getpass.getpass("encryption key: ")
    return args.encryption_key or os.environ.get(ENCRYPTION_KEY_VARIABLE) or None


def _calendar_date(option: str, value: str | None) -> None:
    """A yyyy-mm-dd the calendar has; else a usage error (exit 2): the command could never work."""
    if value is None:
        return
    try:
        if len(value) != len("yyyy-mm-dd"):
            raise ValueError(value)
        dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option}: '{value}' is not a date of the calendar (yyyy-mm-dd)") from None


def _submit(args: argparse.Namespace) -> int:
    if args.out and not args.wait:
        raise UsageError("--out downloads once the request is done: add --wait (or use the download command)")
    request: dict[str, Any] = {"tag": args.tag, "dataset": args.dataset, "datasetConfig": _dataset_config(args)}
    key = _encryption_key(args)
    if key:
        request["encryptionKey"] = key
    client = _client(args)
    result = client.submit(request)
    if not args.wait:
        _emit(args, result, lambda: _show_request(result))
        return 0
    client.say(f"submitted {result['requestId']} (tag {result['tag']}); waiting")
    result = client.wait(
        result["tag"],
        result["requestId"],
        timeout_seconds=args.timeout,
        interval_seconds=args.interval,
        max_interval_seconds=args.max_interval,
    )
    files = client.download(result, Path(args.out)) if args.out and result["status"] == "SUCCESS" else []
    _emit(args, {**result, "saved": [str(path) for path in files]}, lambda: _show_request(result))
    if result["status"] in ("FAILED", "CANCELLED"):
        if not args.json:
            print(f"error: the request {result['status']}: {result.get('statusMessage')}", file=sys.stderr)
        return 1
    return 0


def _read(args: argparse.Namespace) -> int:
    result = _client(args).read(args.tag, args.request_id)
    _emit(args, result, lambda: _show_request(result))
    return 0


def _list(args: argparse.Namespace) -> int:
    answer = _client(args).list_requests(args.tag, args.limit, args.cursor)
    _emit(args, answer, lambda: _show_jobs(answer))
    return 0


def _search(args: argparse.Namespace) -> int:
    _calendar_date("--requested-date", args.requested_date)
    client = _client(args)
    named = (("dataset", args.dataset), ("status", args.status), ("requestedDate", args.requested_date))
    filters = {name: value for name, value in named if value}
    filters["channel"] = args.search_channel or client.channel
    answer = client.search(filters, args.limit, args.cursor)
    _emit(args, answer, lambda: _show_jobs(answer))
    return 0


def _download(args: argparse.Namespace) -> int:
    client = _client(args)
    files = client.download(client.read(args.tag, args.request_id), Path(args.out))
    _emit(args, {"saved": [str(path) for path in files]}, lambda: print("\n".join(str(path) for path in files)))
    return 0


def _base_url(args: argparse.Namespace) -> str:
    if args.base_url:
        return str(args.base_url)
    base_url = read_local_credentials(args.local_credentials, "start local mode with `make run`, or pass --base-url")
    return str(base_url.get("baseUrl") or "")


def _saved(args: argparse.Namespace, status: int) -> int:
    if status == 204:
        _emit(
            args,
            {"saved": None, "status": 204},
            lambda: print("no rows match these filters; nothing saved", file=sys.stderr),
        )
        return 0
    size = Path(args.out).stat().st_size
    _emit(args, {"saved": args.out, "bytes": size}, lambda: print(f"saved {args.out} ({_size(size)})", file=sys.stderr))
    return 0


def _lifecycle(args: argparse.Namespace) -> int:
    client = _client(args)
    operation = client.cancel if args.operation == "cancel" else client.delete
    result = operation(args.tag, args.request_id)
    _emit(args, result, lambda: _show_request(result))
    return 0


def _legacy(args: argparse.Namespace) -> int:
    if bool(args.from_date) != bool(args.to_date):
        raise UsageError("--from-date and --to-date go together: give both, or neither for yesterday")
    _calendar_date("--from-date", args.from_date)
    _calendar_date("--to-date", args.to_date)
    base_url = _base_url(args)
    dates = f"/{args.from_date}/{args.to_date}" if args.from_date else ""
    path = f"/v1/datasets/{urllib.parse.quote(args.dataset)}/{urllib.parse.quote(args.resource_id)}{dates}"
    body = json.dumps({"id": "ekstep.data_exhaust_dataset_service", "request": {"licensekey": args.license_key}})
    request = urllib.request.Request(base_url.rstrip("/") + path, data=body.encode(), method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    return _saved(args, fetch_file(request, Path(args.out)))


def _export(args: argparse.Namespace) -> int:
    base_url = _base_url(args)
    query = {
        name: value
        for name, value in (
            ("date_from", args.date_from),
            ("date_to", args.date_to),
            ("types", ",".join(args.types)),
            ("units", ",".join(args.units)),
        )
        if value
    }
    url = f"{base_url.rstrip('/')}/api/export/{urllib.parse.quote(args.format)}?{urllib.parse.urlencode(query)}"
    return _saved(args, fetch_file(urllib.request.Request(url), Path(args.out)))  # noqa: S310


def register(commands: Any) -> None:
    """`exhaust client COMMAND`: the partner's commands under the dev kit's `exhaust` command."""
    client = commands.add_parser(
        "client",
        help="submit, wait for, read, list, search and download exhaust requests",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_commands(client.add_subparsers(dest="client_command", required=True, metavar="COMMAND"))


def add_commands(actions: Any) -> None:
    """The partner's commands (submit, read, ...) as subcommands of `actions`, an argparse subparsers object."""
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument(
        "--local-credentials", default=".exhaust/local.json", help="local mode's credentials file (.exhaust/local.json)"
    )
    local.add_argument("--json", action="store_true", help="print the answer as one JSON document on stdout")
    target = argparse.ArgumentParser(add_help=False, parents=[local])
    target.add_argument("--base-url", help="the API's base URL (default: local mode's)")
    target.add_argument("--token", help="your API token (default: local mode's)")
    target.add_argument("--channel", help="the channel you act for, sent as X-Channel-Id (default: local mode's)")
    public = argparse.ArgumentParser(add_help=False, parents=[local])
    public.add_argument("--base-url", help="the API's base URL (default: local mode's)")

    submit = actions.add_parser("submit", parents=[target], help="submit a request (and --wait, --out to download)")
    submit.add_argument(
        "--dataset",
        required=True,
        help="progress-, userinfo-, response-exhaust (a batch option) or org-pii-exhaust (none)",
    )
    submit.add_argument("--tag", required=True, help="your label; requests of a tag are listed together")
    batches = submit.add_mutually_exclusive_group()
    batches.add_argument("--batch-id", help="one batch")
    batches.add_argument("--batch-filter", nargs="+", metavar="BATCH_ID", help="several batches")
    batches.add_argument(
        "--search-filter",
        metavar="JSON",
        help='the batches of the courses a search finds: {"request": {"filters": {...}}} as JSON, or @FILE',
    )
    submit.add_argument(
        "--encryption-key",
        help=f"the password of the zips (at least 8 characters); visible in ps and the shell history: prefer "
        f"--encryption-key-file, --encryption-key-prompt or the {ENCRYPTION_KEY_VARIABLE} environment variable",
    )
    submit.add_argument("--encryption-key-file", metavar="FILE", help="read the password from FILE (its first line)")
    submit.add_argument("--encryption-key-prompt", action="store_true", help="ask for the password (not echoed)")
    submit.add_argument("--wait", action="store_true", help="read until SUCCESS or FAILED, showing progress")
    submit.add_argument("--out", metavar="DIR", help="with --wait: download the files into this directory")
    submit.add_argument("--timeout", type=float, default=3600.0, help="with --wait: seconds to wait (3600)")
    add_poll_arguments(submit)
    submit.set_defaults(run=_submit)

    read = actions.add_parser("read", parents=[target], help="a request's status, progress and files")
    read.add_argument("--tag", required=True, help="the request's tag")
    read.add_argument("--request-id", required=True, help="the requestId submit answered")
    read.set_defaults(run=_read)

    listing = actions.add_parser("list", parents=[target], help="a tag's requests, newest first")
    listing.add_argument("--tag", required=True, help="the tag to list")
    listing.add_argument("--limit", type=int, help="at most this many (10; at most 100)")
    listing.add_argument("--cursor", help="the next cursor a previous list printed")
    listing.set_defaults(run=_list)

    search = actions.add_parser("search", parents=[target], help="your channel's requests by dataset, status, day")
    search.add_argument("--dataset", help="only this dataset")
    search.add_argument("--status", help="SUBMITTED, PROCESSING, SUCCESS, FAILED or CANCELLED")
    search.add_argument("--requested-date", help="yyyy-mm-dd: only requests submitted that UTC day")
    search.add_argument(
        "--search-channel", help="the channel whose requests to search (default: yours; others need ADMIN)"
    )
    search.add_argument("--limit", type=int, help="at most this many (the count is of all matches)")
    search.add_argument("--cursor", help="the next cursor a previous search printed")
    search.set_defaults(run=_search)

    download = actions.add_parser("download", parents=[target], help="download (resume, verify) a request's files")
    download.add_argument("--tag", required=True, help="the request's tag")
    download.add_argument("--request-id", required=True, help="the requestId submit answered")
    download.add_argument("--out", required=True, metavar="DIR", help="directory to save the files in")
    download.set_defaults(run=_download)
    for operation, description in (
        ("cancel", "cancel a SUBMITTED or PROCESSING request: it stops, its files so far are removed"),
        ("delete", "delete a finished request's files now; the request stays readable, without links"),
    ):
        lifecycle = actions.add_parser(operation, parents=[target], help=description)
        lifecycle.add_argument("--tag", required=True, help="the request's tag")
        lifecycle.add_argument("--request-id", required=True, help="the requestId submit answered")
        lifecycle.set_defaults(run=_lifecycle, operation=operation)

    legacy = actions.add_parser(
        "legacy", parents=[public], help="a partner's raw telemetry from the legacy dataset API (zip of days)"
    )
    legacy.add_argument("--dataset", required=True, help="the legacy dataset id (local mode: raw-telemetry)")
    legacy.add_argument("--resource-id", required=True, help="SHA-1 hex of the partner id")
    legacy.add_argument("--license-key", required=True, help="the partner's license key (lic_...)")
    legacy.add_argument("--from-date", help="yyyy-mm-dd, with --to-date (without both: yesterday)")
    legacy.add_argument("--to-date", help="yyyy-mm-dd, before today, with --from-date")
    legacy.add_argument("--out", required=True, help="file to save the zip to")
    legacy.set_defaults(run=_legacy)

    export = actions.add_parser(
        "export", parents=[public], help="observations as CKAN CSV, JSON or XML from the export API"
    )
    export.add_argument("--format", required=True, help="csv, json or xml")
    export.add_argument("--date-from", help="yyyy-mm-dd: first day")
    export.add_argument("--date-to", help="yyyy-mm-dd: last day")
    export.add_argument("--types", action="append", default=[], help="producer type (repeatable)")
    export.add_argument("--units", action="append", default=[], help="unit (repeatable)")
    export.add_argument("--out", required=True, help="file to save the zip to")
    export.set_defaults(run=_export)
