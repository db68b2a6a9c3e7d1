from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from exhaust.observability import logger, tracer
from exhaust.pipeline import entry
from exhaust.pipeline.sqs_batch import SqsRecord, partial_batch_response


def dispatch_record(record: SqsRecord) -> str:
    queue = entry.message_queue()
    receipt_handle = record["receiptHandle"]
    return (
        entry.dispatcher()
        .dispatch_message(record["body"], hold=lambda seconds: queue.hold(receipt_handle, seconds))
        .value
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A record whose dispatch raised is reported in batchItemFailures: SQS delivers only that one again.
    return partial_batch_response(event, dispatch_record)
