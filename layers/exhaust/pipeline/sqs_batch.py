"""SQS batches with partial failures (the event source mapping's ReportBatchItemFailures), without Powertools'
batch utility: that imports asyncio and every event data class, about a third of the dispatcher's cold start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exhaust.observability import logger

SqsRecord = Mapping[str, Any]


class EntireBatchFailed(RuntimeError):
    """Every record of the batch failed: the invocation fails, so the whole batch is delivered again."""


def partial_batch_response(event: Mapping[str, Any], handle: Callable[[SqsRecord], object]) -> dict[str, Any]:
    """`handle(record)` for each record in order; the ones that raised are answered in `batchItemFailures`.

    SQS then deletes the others and delivers only those again. When every record failed the invocation fails
    instead (as Powertools' `process_partial_response` does), which Lambda's error metrics and alarms see.
    """
    records = list(event.get("Records") or [])
    failures = []
    for record in records:
        try:
            handle(record)
        except Exception:
            logger.exception("record failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    if records and len(failures) == len(records):
        raise EntireBatchFailed(f"all {len(records)} records of the batch failed")
    return {"batchItemFailures": failures}
