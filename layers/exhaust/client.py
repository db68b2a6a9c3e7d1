"""A partner's client of the request API: submit, wait, and download files that resume and are verified.

    exhaust client submit --dataset progress-exhaust --batch-id B --encryption-key K --tag T --wait --out DIR
    exhaust client download --tag T --request-id R --out DIR

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
TERMINAL_STATUSES = ("SUCCESS", "FAILED")
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
    config: dict[str, Any] = {"batchId": args.batch_id} if args.batch_id else {"batchFilter": args.batch_filter}
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
    submit.add_argument("--dataset", required=True, help="progress-exhaust, userinfo-exhaust or response-exhaust")
    submit.add_argument("--tag", required=True)
    batches = submit.add_mutually_exclusive_group(required=True)
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
