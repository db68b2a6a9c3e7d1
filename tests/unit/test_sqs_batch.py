"""SQS partial batch responses: the records that raised, and only those, are delivered again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from exhaust.pipeline.sqs_batch import EntireBatchFailed, SqsRecord, partial_batch_response


def batch(*bodies: str) -> dict[str, list[dict[str, str]]]:
    return {"Records": [{"messageId": f"m{index}", "receiptHandle": f"r{index}", "body": body}
                        for index, body in enumerate(bodies)]}  # fmt: skip


def failing_on(bad: str) -> tuple[Callable[[SqsRecord], None], list[str]]:
    handled: list[str] = []

    def handle(record: SqsRecord) -> None:
        if record["body"] == bad:
            raise ValueError("cannot dispatch")
        handled.append(record["body"])

    return handle, handled


def test_the_records_that_raised_are_reported_and_the_others_handled_in_order() -> None:
    handle, handled = failing_on("bad")
    answer = partial_batch_response(batch("a", "bad", "b", "bad"), handle)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert handled == ["a", "b"]


def test_a_batch_without_failures_reports_none() -> None:
    handle, handled = failing_on("bad")
    assert partial_batch_response(batch("a", "b"), handle) == {"batchItemFailures": []}
    assert handled == ["a", "b"]
    assert partial_batch_response({"Records": []}, handle) == {"batchItemFailures": []}


def test_a_batch_whose_every_record_failed_fails_the_invocation() -> None:
    handle, _ = failing_on("bad")
    with pytest.raises(EntireBatchFailed, match="all 2 records"):
        partial_batch_response(batch("bad", "bad"), handle)
