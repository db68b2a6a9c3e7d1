"""A partner's client of the request API: submit, wait, and download files that resume and are verified.

    exhaust client submit --dataset progress-exhaust --batch-id B --encryption-key K --tag T --wait --out DIR
    exhaust client download --tag T --request-id R --out DIR
    exhaust client cancel --tag T --request-id R
    exhaust client delete --tag T --request-id R
    exhaust client legacy --dataset D --resource-id R --license-key K --out days.zip
    exhaust client export --format csv --date-from D --types sensor --out export.zip

Against local mode by default (the credentials file gives the base URL, token and channel), or any deployment with
--base-url, --token and --channel. Standard library only. Waiting honours Retry-After; a download continues a
`.part` file left by an interrupted one (HTTP Range) and is checked against the sha256 that read reports before
it is given its final name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUBMIT_PATH = "/api/dataset/v1/request/submit"
READ_PATH = "/api/dataset/v1/request/read/{tag}"
# POST cancel (SUBMITTED, PROCESSING -> CANCELLED) and delete (a finished request's files), by tag and requestId.
LIFECYCLE_PATHS = {"cancel": "/api/dataset/v1/request/cancel/{tag}", "delete": "/api/dataset/v1/request/delete/{tag}"}
TERMINAL_STATUSES = ("SUCCESS", "FAILED", "CANCELLED")
CHUNK_BYTES = 1024 * 1024


class ClientError(Exception):
    """The service refused or the exchange failed; the message says what the service answered."""


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
            raise ClientError(f"submit refused: {answer.describe()}")
        return answer.result

    def read(self, tag: str, request_id: str) -> dict[str, Any]:
        path = (
            READ_PATH.format(tag=urllib.parse.quote(tag, safe=""))
            + "?"
            + urllib.parse.urlencode({"requestId": request_id})
        )
        answer = self.call("GET", path)
        if answer.status != 200:
            raise ClientError(f"read refused: {answer.describe()}")
        return answer.result

    def cancel(self, tag: str, request_id: str) -> dict[str, Any]:
        """Cancel a SUBMITTED or PROCESSING request (again: the same answer); a finished one is refused (409)."""
        return self._lifecycle("cancel", tag, request_id)

    def delete(self, tag: str, request_id: str) -> dict[str, Any]:
        """Delete a finished request's files now (again: the same answer); an open one is refused (409)."""
        return self._lifecycle("delete", tag, request_id)

    def _lifecycle(self, operation: str, tag: str, request_id: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"requestId": request_id})
        answer = self.call(
            "POST", LIFECYCLE_PATHS[operation].format(tag=urllib.parse.quote(tag, safe="")) + "?" + query
        )
        if answer.status != 200:
            raise ClientError(f"{operation} refused: {answer.describe()}")
        return answer.result

    def wait(
        self, tag: str, request_id: str, *, timeout_seconds: float = 3600.0, interval_seconds: float = 10.0
    ) -> dict[str, Any]:
        """Read until SUCCESS or FAILED, saying each change of status or progress."""
        deadline = time.monotonic() + timeout_seconds
        last = None
        while True:
            result = self.read(tag, request_id)
            seen = (result.get("status"), json.dumps(result.get("progress") or {}, sort_keys=True))
            if seen != last:
                last = seen
                self.say(f"{seen[0]} {seen[1]}")
            if result.get("status") in TERMINAL_STATUSES:
                return result
            if time.monotonic() >= deadline:
                raise ClientError(f"still {result.get('status')} after {timeout_seconds:.0f} s")
            self.sleep(interval_seconds)

    def download(self, result: dict[str, Any], directory: Path) -> list[Path]:
        """Download every file of a SUCCESS answer into `directory`, resuming and verifying each."""
        if result.get("status") != "SUCCESS":
            raise ClientError(f"nothing to download: the request is {result.get('status')}")
        directory.mkdir(parents=True, exist_ok=True)
        return [self._download_file(file, directory) for file in result.get("files") or []]

    def _download_file(self, file: dict[str, Any], directory: Path) -> Path:
        target = directory / Path(str(file["name"])).name  # a name, never a path from the answer
        if target.exists() and _sha256(target) == file["sha256"]:
            self.say(f"{target.name}: already here, checksum ok")
            return target
        partial = target.with_name(target.name + ".part")
        offset = partial.stat().st_size if partial.exists() else 0
        # A presigned link carries its own credentials: no Authorization header (S3 refuses two).
        request = urllib.request.Request(str(file["url"]))  # noqa: S310
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                mode = "ab" if offset and answer.status == 206 else "wb"
                with partial.open(mode) as sink:
                    while chunk := answer.read(CHUNK_BYTES):
                        sink.write(chunk)
        except urllib.error.HTTPError as error:
            if not (error.code == 416 and offset):  # 416 on a resume: the part file is already whole
                raise ClientError(
                    f"{target.name}: the link answered HTTP {error.code}; read again for fresh links"
                ) from None
        if _sha256(partial) != file["sha256"]:
            partial.unlink()
            raise ClientError(f"{target.name}: checksum mismatch, the partial file was removed; download again")
        partial.replace(target)
        self.say(f"{target.name}: {file.get('rows', '?')} rows, {target.stat().st_size} bytes, checksum ok")
        return target


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _client(args: argparse.Namespace) -> ExhaustClient:
    base_url, token, channel = args.base_url, args.token, args.channel
    if not (base_url and token and channel):
        local = json.loads(Path(args.local_credentials).read_text())
        base_url = base_url or local["baseUrl"]
        token = token or local["token"]
        channel = channel or local["channel"]
    return ExhaustClient(base_url=base_url, token=token, channel=channel)


def _submit(args: argparse.Namespace) -> int:
    client = _client(args)
    config: dict[str, Any] = {}  # org-pii-exhaust: the organisation is the scope, no batch selector
    if args.batch_id:
        config = {"batchId": args.batch_id}
    elif args.batch_filter:
        config = {"batchFilter": args.batch_filter}
    request: dict[str, Any] = {"tag": args.tag, "dataset": args.dataset, "datasetConfig": config}
    if args.encryption_key:
        request["encryptionKey"] = args.encryption_key
    result = client.submit(request)
    print(json.dumps({"requestId": result["requestId"], "tag": result["tag"], "status": result["status"]}))
    if not args.wait:
        return 0
    result = client.wait(
        result["tag"], result["requestId"], timeout_seconds=args.timeout, interval_seconds=args.interval
    )
    if result["status"] == "FAILED":
        print(f"FAILED: {result.get('statusMessage')}", file=sys.stderr)
        return 1
    if args.out:
        client.download(result, Path(args.out))
    return 0


def _download(args: argparse.Namespace) -> int:
    client = _client(args)
    client.download(client.read(args.tag, args.request_id), Path(args.out))
    return 0


def _lifecycle(args: argparse.Namespace) -> int:
    client = _client(args)
    result = (
        client.cancel(args.tag, args.request_id)
        if args.operation == "cancel"
        else client.delete(args.tag, args.request_id)
    )
    print(json.dumps({name: result.get(name) for name in ("requestId", "tag", "status", "statusMessage")}))
    return 0


def _legacy(args: argparse.Namespace) -> int:
    base_url = args.base_url or json.loads(Path(args.local_credentials).read_text())["baseUrl"]
    dates = f"/{args.from_date}/{args.to_date}" if args.from_date and args.to_date else ""
    path = f"/v1/datasets/{urllib.parse.quote(args.dataset)}/{urllib.parse.quote(args.resource_id)}{dates}"
    body = json.dumps({"id": "ekstep.data_exhaust_dataset_service", "request": {"licensekey": args.license_key}})
    request = urllib.request.Request(base_url.rstrip("/") + path, data=body.encode(), method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    fetch_file(request, Path(args.out))
    print(f"saved {args.out}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    base_url = args.base_url or json.loads(Path(args.local_credentials).read_text())["baseUrl"]
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
    if fetch_file(urllib.request.Request(url), Path(args.out)) == 204:  # noqa: S310
        print("no rows match these filters; nothing saved", file=sys.stderr)
        return 0
    print(f"saved {args.out}", file=sys.stderr)
    return 0


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (ClientError, urllib.error.URLError, TimeoutError) as failure:
            print(f"error: {failure}", file=sys.stderr)
            return 1

    return guarded


def register(commands: Any) -> None:
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--base-url", help="the API's base URL (default: local mode's)")
    target.add_argument("--token", help="your API token (default: local mode's)")
    target.add_argument("--channel", help="the channel you act for (default: local mode's)")
    target.add_argument("--local-credentials", default=".exhaust/local.json")

    client = commands.add_parser("client", help="submit, wait for and download exhaust requests")
    actions = client.add_subparsers(dest="client_command", required=True)
    submit = actions.add_parser("submit", parents=[target], help="submit a request (and --wait, --out to download)")
    submit.add_argument(
        "--dataset", required=True, help="progress-, userinfo-, response-exhaust (a batch option) or org-pii-exhaust"
    )
    submit.add_argument("--tag", required=True)
    batches = submit.add_mutually_exclusive_group()
    batches.add_argument("--batch-id")
    batches.add_argument("--batch-filter", nargs="+", metavar="BATCH_ID")
    submit.add_argument("--encryption-key", help="the password of the zips (at least 8 characters)")
    submit.add_argument("--wait", action="store_true", help="read until SUCCESS or FAILED")
    submit.add_argument("--out", help="with --wait: download the files into this directory")
    submit.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (3600)")
    submit.add_argument("--interval", type=float, default=10.0, help="seconds between reads (10)")
    submit.set_defaults(run=_guarded(_submit))
    download = actions.add_parser("download", parents=[target], help="download (resume, verify) a request's files")
    download.add_argument("--tag", required=True)
    download.add_argument("--request-id", required=True)
    download.add_argument("--out", required=True)
    download.set_defaults(run=_guarded(_download))
    for operation, description in (
        ("cancel", "cancel a SUBMITTED or PROCESSING request: it stops, its files so far are removed"),
        ("delete", "delete a finished request's files now; the request stays readable, without links"),
    ):
        lifecycle = actions.add_parser(operation, parents=[target], help=description)
        lifecycle.add_argument("--tag", required=True)
        lifecycle.add_argument("--request-id", required=True)
        lifecycle.set_defaults(run=_guarded(_lifecycle), operation=operation)

    legacy = actions.add_parser("legacy", help="a partner's raw telemetry from the legacy dataset API (zip of days)")
    legacy.add_argument("--base-url", help="the API's base URL (default: local mode's)")
    legacy.add_argument("--local-credentials", default=".exhaust/local.json")
    legacy.add_argument("--dataset", required=True)
    legacy.add_argument("--resource-id", required=True, help="SHA-1 hex of the partner id")
    legacy.add_argument("--license-key", required=True)
    legacy.add_argument("--from-date", help="yyyy-mm-dd (with --to-date; both default to yesterday)")
    legacy.add_argument("--to-date", help="yyyy-mm-dd, before today")
    legacy.add_argument("--out", required=True, help="file to save the zip to")
    legacy.set_defaults(run=_guarded(_legacy))

    export = actions.add_parser("export", help="observations as CKAN CSV, JSON or XML from the export API")
    export.add_argument("--base-url", help="the API's base URL (default: local mode's)")
    export.add_argument("--local-credentials", default=".exhaust/local.json")
    export.add_argument("--format", required=True, help="csv, json or xml")
    export.add_argument("--date-from")
    export.add_argument("--date-to")
    export.add_argument("--types", action="append", default=[], help="producer type (repeatable)")
    export.add_argument("--units", action="append", default=[], help="unit (repeatable)")
    export.add_argument("--out", required=True, help="file to save the zip to")
    export.set_defaults(run=_guarded(_export))
