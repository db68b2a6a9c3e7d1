from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from exhaust.observability import logger, tracer
from exhaust.pipeline import entry

processor = BatchProcessor(event_type=EventType.SQS)


def dispatch_record(record: SQSRecord) -> str:
    queue = entry.message_queue()
    return (
        entry.dispatcher()
        .dispatch_message(record.body, hold=lambda seconds: queue.hold(record.receipt_handle, seconds))
        .value
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A record whose dispatch raised is reported in batchItemFailures: SQS delivers only that one again.
    return dict(
        process_partial_response(event=event, record_handler=dispatch_record, processor=processor, context=context)
    )
