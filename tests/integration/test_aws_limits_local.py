"""Local mode refuses what AWS refuses (issue 13 item 11): DynamoDB's item size, SQS's message size, Lambda's
synchronous response size behind the local gateway. (The Step Functions state quota: tests/unit/test_aws_limits.py.)
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from exhaust.aws_limits import DYNAMODB_ITEM_MAX_BYTES, LAMBDA_SYNC_RESPONSE_MAX_BYTES, SQS_MESSAGE_MAX_BYTES
from exhaust.requests.models import ExhaustRequest, OutputFile, Status

pytestmark = pytest.mark.xdist_group("local-gateway")


def stored_request(files: int) -> ExhaustRequest:
    now = int(time.time() * 1000)
    return ExhaustRequest(
        requestId="A" * 32,
        channel="channel-a",
        tag="tag-1",
        dataset="progress-exhaust",
        datasetConfig={"batchId": "b"},
        requestedBy="user-a",
        status=Status.PROCESSING,
        submittedAt=now,
        updatedAt=now,
        files=[
            OutputFile(
                name=f"progress-exhaust-batch-{index:05d}.zip",
                key=f"requests/channel-a/{'A' * 32}/progress-exhaust-batch-{index:05d}.zip",
                rows=1000,
                bytes=123456,
                sha256="0" * 64,
                batchId=f"batch-{index:05d}",
            )
            for index in range(files)
        ],
    )


def test_a_request_item_over_dynamodb_item_size_is_refused_and_nothing_is_written(aws_resources):
    from exhaust.requests.store import ItemTooLarge, RequestStore

    store = RequestStore()
    assert store.create(stored_request(files=0))
    version = stored_request(files=0).version
    # Issue 13: every batch appends a files[] entry to the item; somewhat over 1,250 batches DynamoDB refuses it.
    too_many = stored_request(files=2000)
    with pytest.raises(ItemTooLarge) as refused:
        store.replace(too_many, expected_version=version)
    assert f"over DynamoDB's item limit of {DYNAMODB_ITEM_MAX_BYTES} bytes (2000 files)" in str(refused.value)
    kept = store.get(too_many.requestId)
    assert kept is not None
    assert kept.files == []
    assert kept.version == version
    # Within the limit the same write goes through.
    assert len(store.replace(stored_request(files=500), expected_version=version).files) == 500


def test_a_queue_message_over_sqs_message_size_is_refused(aws_resources):
    from exhaust import aws
    from exhaust.requests.adapters import MessageTooLarge, RequestQueue

    queue = RequestQueue()
    with pytest.raises(MessageTooLarge) as refused:
        queue.send("R" * (SQS_MESSAGE_MAX_BYTES + 1))
    assert f"over SQS's message limit of {SQS_MESSAGE_MAX_BYTES}" in str(refused.value)
    answer = aws.client("sqs").receive_message(QueueUrl=queue.queue_url, WaitTimeSeconds=0)
    assert answer.get("Messages", []) == []


@pytest.fixture
def gateway_answering(monkeypatch):
    """A local gateway whose health function answers a body of the size the test sets."""
    from exhaust_devkit.local import gateway as gateway_module

    from tests.conftest import moto_environment

    size = {"bytes": 0}

    def fake_invoke(function: str, event: dict) -> dict:
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "x" * size["bytes"]}

    with moto_environment():
        monkeypatch.setattr(gateway_module, "invoke", fake_invoke)
        server = gateway_module.LocalGateway("127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server, size
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.mark.fake_answers
def test_the_gateway_answers_502_for_a_function_response_over_lambdas_limit(gateway_answering, caplog):
    server, size = gateway_answering
    size["bytes"] = LAMBDA_SYNC_RESPONSE_MAX_BYTES + 1
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{server.base_url}/api/health", timeout=30)
    assert answer.value.code == 502
    body = json.loads(answer.value.read())
    assert body["params"]["status"] == "failed"
    assert "response was too large" in body["params"]["errmsg"]
    assert any("synchronous response limit" in record.getMessage() for record in caplog.records)
    # Just under the limit (the proxy answer's JSON counts, not only the body), the answer passes through.
    size["bytes"] = LAMBDA_SYNC_RESPONSE_MAX_BYTES - 1000
    with urllib.request.urlopen(f"{server.base_url}/api/health", timeout=30) as passed:
        assert passed.status == 200
        assert len(passed.read()) == size["bytes"]


def test_an_answer_zip_bigger_than_the_functions_tmp_fails_as_it_would_in_lambda(tmp_path, monkeypatch):
    """Local disks hold any zip; Lambda's /tmp holds ANSWER_FUNCTION_TMP_BYTES, and a write past it is ENOSPC."""
    import errno

    from exhaust import aws_limits, downloads

    monkeypatch.setattr(aws_limits, "ANSWER_FUNCTION_TMP_BYTES", 1024)
    small, big = tmp_path / "small.zip", tmp_path / "big.zip"
    small.write_bytes(b"z" * 1024)
    big.write_bytes(b"z" * 1025)
    assert downloads.deliver_zip(small, filename="small.zip", key_prefix="legacy/").status == 200
    with pytest.raises(OSError, match="outgrew the function's /tmp") as refused:
        downloads.deliver_zip(big, filename="big.zip", key_prefix="legacy/")
    assert refused.value.errno == errno.ENOSPC
