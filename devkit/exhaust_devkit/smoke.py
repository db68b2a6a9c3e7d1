"""Smoke test of a deployed stack (or of local mode): submit -> wait -> download, as a partner would.

    python -m exhaust_devkit.smoke --base-url URL --token TOKEN --channel CHANNEL --batch-id BATCH
    make smoke BASE_URL=URL TOKEN=TOKEN CHANNEL=CHANNEL BATCH=BATCH

Checks, in order: the public health route answers; a call without a token is refused with a 401 in the envelope
(the authorizer and the gateway responses are in place); a progress-exhaust request for BATCH is accepted; read
reaches SUCCESS before the timeout (FAILED ends the check with its statusMessage); the first download link
answers a zip whose every entry is encrypted. Exit status 0 when all pass, 1 otherwise. Standard library only,
so it runs from any machine with Python 3.11; it is not shipped in the Lambda layer.
"""

from __future__ import annotations

import argparse
import io
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exhaust_client.client import (
    FIRST_POLL_SECONDS,
    MAX_POLL_SECONDS,
    SUBMIT_PATH,
    ClientError,
    ExhaustClient,
    add_poll_arguments,
)

HEALTH_PATH = "/api/health"


class SmokeFailure(Exception):
    """A check that did not pass; its message says which and why."""


@dataclass
class Smoke:
    base_url: str
    token: str
    channel: str
    batch_id: str
    dataset: str = "progress-exhaust"
    timeout_seconds: float = 900.0
    interval_seconds: float = FIRST_POLL_SECONDS
    max_interval_seconds: float = MAX_POLL_SECONDS
    encryption_key: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    say: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep

    def call(self, method: str, path: str, body: Any = None, *, authorized: bool = True) -> tuple[int, dict[str, Any]]:
        try:
            answer = ExhaustClient(self.base_url, self.token, self.channel).call(
                method, path, body, authorized=authorized
            )
        except ClientError as failure:
            raise SmokeFailure(str(failure)) from None
        return answer.status, answer.body

    def check_health(self) -> None:
        status, body = self.call("GET", HEALTH_PATH, authorized=False)
        if status != 200 or body.get("responseCode") != "OK":
            raise SmokeFailure(f"health: expected 200 OK, got {status} {body}")
        self.say(f"ok   health {body.get('result')}")

    def check_refused_without_token(self) -> None:
        status, body = self.call("POST", SUBMIT_PATH, {"request": {}}, authorized=False)
        params = body.get("params", {})
        if status != 401 or params.get("status") != "failed":
            raise SmokeFailure(f"no token: expected a 401 envelope, got {status} {body}")
        self.say("ok   a call without a token is refused (401, envelope)")

    def submit(self) -> tuple[str, str]:
        tag = "smoke-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        body = {
            "request": {
                "tag": tag,
                "dataset": self.dataset,
                "datasetConfig": {"batchId": self.batch_id},
                "encryptionKey": self.encryption_key,
            }
        }
        status, answer = self.call("POST", SUBMIT_PATH, body)
        result = answer.get("result") or {}
        if status != 200 or "requestId" not in result:
            raise SmokeFailure(f"submit: expected 200 with a requestId, got {status} {answer.get('params')}")
        self.say(f"ok   submitted {result['requestId']} (tag {result.get('tag', tag)}, {result.get('status')})")
        return result.get("tag", tag), result["requestId"]

    def wait(self, tag: str, request_id: str) -> dict[str, Any]:
        """Read as the client does: soon at first, then less often, honouring Retry-After."""
        client = ExhaustClient(
            self.base_url, self.token, self.channel, sleep=self.sleep, say=lambda line: self.say(f"...  {line}")
        )
        try:
            result = client.wait(
                tag,
                request_id,
                timeout_seconds=self.timeout_seconds,
                interval_seconds=self.interval_seconds,
                max_interval_seconds=self.max_interval_seconds,
            )
        except ClientError as failure:
            raise SmokeFailure(f"read: {failure}") from None
        if result.get("status") == "FAILED":
            raise SmokeFailure(f"the request FAILED: {result.get('statusMessage')}")
        return result

    def download_first(self, result: dict[str, Any]) -> bytes:
        urls = result.get("downloadUrls") or []
        if not urls:
            raise SmokeFailure("SUCCESS without downloadUrls")
        # A presigned URL carries its own credentials: no Authorization header (S3 would refuse two).
        try:
            with urllib.request.urlopen(urls[0], timeout=120) as answer:  # noqa: S310
                content: bytes = answer.read()
        except urllib.error.HTTPError as error:
            raise SmokeFailure(f"download: the first link answered {error.code}") from None
        try:
            archive = zipfile.ZipFile(io.BytesIO(content))
        except zipfile.BadZipFile:
            raise SmokeFailure("download: the first link did not answer a zip") from None
        entries = archive.infolist()
        if not entries or any(not entry.flag_bits & 0x1 for entry in entries):
            raise SmokeFailure("download: the zip is empty or holds an unencrypted entry")
        names = ", ".join(entry.filename for entry in entries)
        self.say(f"ok   downloaded {len(content)} bytes, encrypted zip of {names}")
        return content

    def run(self) -> bytes:
        self.check_health()
        self.check_refused_without_token()
        tag, request_id = self.submit()
        result = self.wait(tag, request_id)
        self.say(f"ok   SUCCESS with {len(result.get('downloadUrls') or [])} link(s)")
        return self.download_first(result)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exhaust_devkit.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the ApiUrl output, e.g. https://abc.execute-api...")
    parser.add_argument("--token", required=True, help="an API token of the channel (exhaust token create)")
    parser.add_argument("--channel", required=True, help="the channel the token may act for (X-Channel-Id)")
    parser.add_argument("--batch-id", required=True, help="a batch id present in the lake")
    parser.add_argument("--dataset", default="progress-exhaust")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for SUCCESS (900)")
    add_poll_arguments(parser)
    parser.add_argument("--output", help="also write the downloaded zip here")
    parser.add_argument("--encryption-key", help="the zip password to request (default: a random one, not shown)")
    args = parser.parse_args(argv)
    smoke = Smoke(
        base_url=args.base_url,
        token=args.token,
        channel=args.channel,
        batch_id=args.batch_id,
        dataset=args.dataset,
        timeout_seconds=args.timeout,
        interval_seconds=args.interval,
        max_interval_seconds=args.max_interval,
    )
    if args.encryption_key:
        smoke.encryption_key = args.encryption_key
    try:
        content = smoke.run()
    except SmokeFailure as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, TimeoutError) as failure:
        print(f"FAIL cannot reach {args.base_url}: {failure}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "wb") as file:
            file.write(content)
    print("PASS smoke test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
