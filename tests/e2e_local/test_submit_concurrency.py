"""1,000 submits from 50 threads against local mode (issue 12): nothing lost, duplicated or over the limit.

The mix: one body sent many times (no key); one Idempotency-Key sent with many bodies and with its winner's body
again; distinct bodies for a channel of their own (an admin acts for it) that far exceed its open-request limit.
Distinct bodies name batches with no data, so each build is trivially small (the Plan ends it FAILED "No data
found"): the test measures the API and the store, not the builders. While it runs, a watcher counts the
channel's open requests in the store; afterwards every accepted request must be final within FINAL_WITHIN_SECONDS.
"""

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.xdist_group("submit-concurrency")

SUBMITS = 1_000
THREADS = 50
IDENTICAL = 300
ONE_KEY = 300
LIMIT_CHANNEL = "limit-probe"
OPEN_LIMIT = 100  # RuntimeSettings.max_open_requests_per_channel, local mode's default
FINAL_WITHIN_SECONDS = 600
SUBMIT = "/api/dataset/v1/request/submit"
OPEN_STATUSES = ("SUBMITTED", "PROCESSING")


def body(tag: str, batch: str) -> dict:
    return {
        "request": {
            "tag": tag,
            "dataset": "progress-exhaust",
            "datasetConfig": {"batchId": batch},
            "encryptionKey": "concurrency-key",
        }
    }


def call(credentials, method, path, payload=None, token="token", headers=None, channel=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(credentials["baseUrl"] + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {credentials[token]}")
    request.add_header("X-Channel-Id", channel or credentials["channel"])
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def plan(credentials) -> list[tuple[str, dict[str, Any]]]:
    """(kind, keyword arguments of call) for each of the SUBMITS submits, in a fixed shuffled order."""
    same = body("conc-same", credentials["samples"]["progressBatchId"])
    submits: list[tuple[str, dict[str, Any]]] = [("identical", {"payload": same})] * IDENTICAL
    submits += [
        ("one-key", {"payload": body("conc-key", f"key-body-{n % 30}"), "headers": {"Idempotency-Key": "conc-k1"}})
        for n in range(ONE_KEY)
    ]
    submits += [
        ("distinct", {"payload": body(f"conc-{n}", "no-such-batch"), "token": "adminToken", "channel": LIMIT_CHANNEL})
        for n in range(SUBMITS - len(submits))
    ]
    random.Random(12).shuffle(submits)
    return submits


def open_in_store(table, channel: str) -> int:
    """The channel's SUBMITTED and PROCESSING requests as stored (not the counter the API keeps)."""
    arguments = {"ProjectionExpression": "channel, #s", "ExpressionAttributeNames": {"#s": "status"}}
    count = 0
    while True:
        page = table.scan(**arguments)
        count += sum(
            1 for item in page["Items"] if item.get("channel") == channel and item.get("status") in OPEN_STATUSES
        )
        if "LastEvaluatedKey" not in page:
            return count
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_1000_concurrent_submits_lose_nothing_duplicate_nothing_and_keep_the_limit(local_service):
    credentials = local_service.credentials
    table = boto3.resource(
        "dynamodb",
        endpoint_url=credentials["awsEndpoint"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table("exhaust-local-requests")
    most_open = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most_open
        # One scan is one moto call, so a snapshot of the store (exhaust_devkit.local.atomic); a pause between scans
        # leaves DynamoDB to the submits.
        while not done.wait(0.2):
            most_open = max(most_open, open_in_store(table, LIMIT_CHANNEL))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    submits = plan(credentials)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda item: (item[0], item[1], call(credentials, "POST", SUBMIT, **item[1])), submits))
    done.set()
    watcher.join(timeout=60)

    statuses = Counter((kind, status) for kind, _, (status, _, _) in answers)
    assert not [key for key in statuses if key[1] >= 500], statuses
    accepted = {}
    for kind, arguments, (status, headers, answer) in answers:
        if status == 200:
            job = answer["result"]
            accepted[job["requestId"]] = (kind, arguments, job)
        elif status == 429:
            assert kind == "distinct", answer
            assert headers.get("Retry-After") == "60"
        else:
            assert (kind, status) == ("one-key", 409), answer

    # One body sent 300 times is one request.
    identical = {rid for rid, (kind, _, _) in accepted.items() if kind == "identical"}
    assert len(identical) == 1
    # One key: one body won, its repeats answered the same request, every other body a 409.
    keyed = [(arguments, job) for kind, arguments, job in accepted.values() if kind == "one-key"]
    assert len(keyed) == 1
    winner_batch = keyed[0][1]["datasetConfig"]["batchId"]
    keyed_answers = [(arguments, result) for kind, arguments, result in answers if kind == "one-key"]
    for arguments, (status, _, _) in keyed_answers:
        expected = 200 if arguments["payload"]["request"]["datasetConfig"]["batchId"] == winner_batch else 409
        assert status == expected
    # The limit: never more open requests than allowed, though four times as many were submitted at once.
    assert 0 < most_open <= OPEN_LIMIT
    assert statuses[("distinct", 429)] > 0

    deadline = time.monotonic() + FINAL_WITHIN_SECONDS
    pending = dict(accepted)
    while pending and time.monotonic() < deadline:
        for rid, (_, arguments, job) in list(pending.items()):
            token, channel = arguments.get("token", "token"), arguments.get("channel")
            status, _, answer = call(
                credentials,
                "GET",
                f"/api/dataset/v1/request/read/{job['tag']}?requestId={rid}",
                token=token,
                channel=channel,
            )
            assert status == 200, answer  # nothing accepted is lost
            if answer["result"]["status"] in ("SUCCESS", "FAILED"):
                del pending[rid]
        time.sleep(1)
    assert pending == {}, f"{len(pending)} accepted requests not final within {FINAL_WITHIN_SECONDS} s"

    # Nothing duplicated: each tag lists exactly the one request its body made.
    for tag, token, channel in (("conc-same", "token", None), ("conc-key", "token", None)):
        status, _, answer = call(
            credentials, "GET", f"/api/dataset/v1/request/list/{tag}", token=token, channel=channel
        )
        assert answer["result"]["count"] == 1
    stored = [item for item in table.scan()["Items"] if item.get("channel") == LIMIT_CHANNEL]
    assert len(stored) == len({item["tagKey"] for item in stored})
