"""Concurrent submits on moto (issue 12 items 2, 3): Idempotency-Key and the open-request limit hold under races."""

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import call_api, load_event, moto_environment, stored_request

OPEN_LIMIT = 5


@pytest.fixture
def world():
    from exhaust.auth.credentials import CredentialStore
    from exhaust_devkit.local.atomic import serialize_dynamodb

    serialize_dynamodb()  # moto's conditional writes race under threads; DynamoDB's do not
    with moto_environment({"EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL": str(OPEN_LIMIT)}) as settings:
        token = CredentialStore().create("token", "a", channels=["channel-a"], roles=["ORG_ADMIN"], user_id="u")[0]
        yield settings, token


def submit(token, tag, batch="b1", key=None):
    event = load_event("submit/seed002_batch_filter")
    request = {"tag": tag, "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch}, "encryptionKey": "k" * 8}
    event["body"] = json.dumps({"request": request})
    headers = {"Idempotency_Key": key} if key else {}
    return call_api(event, token, **headers)


def stored_requests(settings):
    from exhaust import aws

    items = aws.resource("dynamodb").Table(settings.requests_table).scan()["Items"]
    return [item for item in items if "tagKey" in item]


def test_one_key_with_five_bodies_at_once_lets_exactly_one_body_win(world):
    settings, token = world
    for round_number in range(4):
        key = f"key-{round_number}"
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda n: submit(token, f"tag{n}", batch=f"r{round_number}", key=key), range(5)))
        statuses = Counter(status for status, _, _ in answers)
        assert statuses == {200: 1, 409: 4}, statuses
    assert len(stored_requests(settings)) == 4


def test_one_key_with_one_body_at_once_answers_one_request(world):
    settings, token = world
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: submit(token, "same", key="same-key"), range(8)))
    assert {status for status, _, _ in answers} == {200}
    assert len({body["result"]["requestId"] for _, _, body in answers}) == 1
    assert len(stored_requests(settings)) == 1


def test_the_open_request_limit_is_never_exceeded_by_concurrent_submits(world):
    settings, token = world
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda n: submit(token, f"burst{n}"), range(40)))
    accepted = [body for status, _, body in answers if status == 200]
    refused = [(status, headers) for status, headers, _ in answers if status != 200]
    assert len(accepted) == OPEN_LIMIT
    assert len(stored_requests(settings)) == OPEN_LIMIT
    assert {status for status, _ in refused} == {429}
    assert all(headers.get("Retry-After") == "60" for _, headers in refused)


def test_a_request_that_ends_frees_its_place_under_the_limit(world):
    from exhaust.requests.models import Status
    from exhaust.requests.store import RequestStore

    _, token = world
    ids = [submit(token, f"fill{n}")[2]["result"]["requestId"] for n in range(OPEN_LIMIT)]
    assert submit(token, "one-more")[0] == 429
    store = RequestStore()
    first = stored_request(ids[0])
    store.replace(first.model_copy(update={"status": Status.FAILED}), first.version)
    assert store.open_count("channel-a") == OPEN_LIMIT - 1
    assert submit(token, "one-more")[0] == 200
    # Re-submitting the FAILED request opens it again: the channel is at its limit once more.
    assert submit(token, "fill0")[0] == 429
