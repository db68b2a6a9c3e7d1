"""AWS's hard limits that local mode and the tests enforce, so a change that AWS would refuse fails here first.

Each is the documented quota, named once; the code that would hit it in AWS checks it locally (docs/reliability.md).
"""

from __future__ import annotations

import json
from typing import Any

# Step Functions quotas, "Maximum input or output size for a task, state, or execution": 256 KiB of UTF-8 text
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). Over it: States.DataLimitExceeded.
STATE_PAYLOAD_MAX_BYTES = 256 * 1024
# A Distributed Map item becomes its child execution's input, an execution input under the quota above; and
# "ItemBatcher (Map)": MaxInputBytesPerBatch is at most 256 KiB. Over it the child fails with States.DataLimitExceeded
# (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html).
MAP_ITEM_MAX_BYTES = 256 * 1024
# "ResultWriter (Map)": the results of one status go to files of at most 5 GB each, SUCCEEDED_0.json,
# SUCCEEDED_1.json, ... listed in the Map Run's manifest.json
# (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
RESULT_WRITER_FILE_MAX_BYTES = 5 * 1024**3
# DynamoDB quotas, "Item size": 400 KB, attribute names (UTF-8) plus values
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items).
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024
# SQS quotas, "Message size": 262,144 bytes (256 KiB) is the queue's classic maximum
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html).
SQS_MESSAGE_MAX_BYTES = 256 * 1024
# Lambda quotas, "Invocation payload (request and response)": 6 MB for synchronous invocations
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). API Gateway answers a bigger one 502.
LAMBDA_SYNC_RESPONSE_MAX_BYTES = 6 * 1024 * 1024
# API Gateway quotas, "Payload size": REST APIs take requests of at most 10 MB
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
API_GATEWAY_PAYLOAD_MAX_BYTES = 10 * 1024 * 1024
# API Gateway quotas, "Maximum integration timeout for REST APIs": 50 ms to 29 s (same page as above).
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29
# Lambda quotas, "Function timeout": 900 seconds (15 minutes), same page as above. A function still running then is
# stopped, and Step Functions reports the task as Lambda.Unknown (exhaust.pipeline.errors.FUNCTION_LIMIT_ERROR).
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# Lambda quotas, "/tmp directory storage": 512 MB to 10,240 MB, as configured per function. The legacy and export
# functions build their answer's zip in /tmp with 4 GiB (infra.image_function.EPHEMERAL_STORAGE is made from this;
# a test keeps them equal); a write past it fails with ENOSPC in AWS, so locally a zip bigger than it fails too.
ANSWER_FUNCTION_TMP_BYTES = 4 * 1024**3
# Lambda quotas, "Function memory": 128 MB to 10,240 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
LAMBDA_MAX_MEMORY_MB = 10_240
# New accounts start with reduced Lambda quotas that AWS raises as the account is used (same page): their functions
# may not ask for more than 3,008 MB, and CreateFunction answers "'MemorySize' value failed to satisfy constraint:
# Member must have value less than or equal to 3008". Every function fits it by default.
NEW_ACCOUNT_LAMBDA_MEMORY_MB = 3008
# Lambda developer guide, "Configuring reserved concurrency": reservations may take all of the account's concurrency
# but 100, which Lambda keeps unreserved for the functions without a reservation.
LAMBDA_UNRESERVED_CONCURRENCY_MIN = 100


def json_size(value: Any) -> int:
    """The UTF-8 length of `value` as compact JSON: how Step Functions, SQS and Lambda measure a payload."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))


def _attribute_value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        # A number takes about one byte per two significant digits, plus one.
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 2
    if isinstance(value, dict):
        # A map costs 3 bytes, plus one per element, plus its names and values.
        return 3 + sum(len(str(k).encode("utf-8")) + _attribute_value_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(_attribute_value_size(item) + 1 for item in value)
    return len(str(value).encode("utf-8"))


def dynamodb_item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: each attribute's name (UTF-8) plus its value's size."""
    return sum(len(name.encode("utf-8")) + _attribute_value_size(value) for name, value in item.items())
