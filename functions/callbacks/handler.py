from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from exhaust.observability import logger, tracer
from exhaust.pipeline import entry
from exhaust.pipeline.sqs_batch import SqsRecord, partial_batch_response


def deliver_record(record: SqsRecord) -> None:
    entry.callback_deliverer().deliver_message(record["body"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A record whose delivery raised (the table unreachable) comes back; a callback that failed stays in the outbox.
    return partial_batch_response(event, deliver_record)
