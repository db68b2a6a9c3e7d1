"""DynamoDB adapter of the requests table (the RequestStore port of exhaust.ports).

Every state change is a conditional write (docs/dynamodb.md).
"""

from __future__ import annotations

import base64
import json
import random
import time
from decimal import Decimal
from typing import Any

from exhaust import aws
from exhaust.aws import condition_attr as Attr  # boto3's conditions, imported on first use
from exhaust.aws import condition_key as Key
from exhaust.aws_limits import DYNAMODB_ITEM_MAX_BYTES, dynamodb_item_size
from exhaust.errors import BadRequest, PayloadTooLarge
from exhaust.ports import ConcurrentUpdate, LimitReached, NotOwned
from exhaust.requests.models import FINISHED_STATUSES, OPEN_STATUSES, REQUEST_ID, ExhaustRequest, OutputFile, Status
from exhaust.settings import get_settings

# Search's indexes, most selective first, and their partition attributes (docs/dynamodb.md).
SEARCH_INDEXES = (("by-channel", "channel"), ("by-status", "status"), ("by-dataset", "dataset"))
# The most index entries one search answer reads, for its page and again for its count: a search costs at most
# about what its largest page costs, whatever the history (docs/decisions.md).
SEARCH_READ_MAX = 2000


# The requestId of a channel's open-request counter item in the requests table (docs/dynamodb.md). No request id
# starts with '#', and the item has none of the index attributes, so no query of requests ever sees it.
OPEN_COUNTER_PREFIX = "#open#"


def counter_key(channel: str) -> dict[str, str]:
    return {"requestId": f"{OPEN_COUNTER_PREFIX}{channel}"}


# The requestId of a built batch's record: one small item per batch of one submission (a re-submit has another
# submittedAt, so it starts with no batch recorded). Like the counters, it has no index attribute.
BATCH_RECORD_PREFIX = "#batch#"
# Far beyond the longest a submission stays open (3 attempts of at most 12 hours, deferrals of minutes).
BATCH_RECORD_RETENTION_SECONDS = 7 * 86_400


# BatchGetItem reads at most 100 keys per call (DynamoDB API Reference, BatchGetItem).
BATCH_GET_MAX_KEYS = 100
# The table's TTL attribute (epoch seconds): batch records, and finished requests after their retention.
EXPIRES_AT = "expiresAt"


# Builders finishing at the same moment all update the request item: DynamoDB cancels a transaction that meets
# another on the same item (TransactionConflict) and writes nothing; it is tried again after a short random wait.
TRANSACTION_CONFLICT_ATTEMPTS = 5
TRANSACTION_CONFLICT_BACKOFF_SECONDS = 0.05


def batch_record_key(request_id: str, submitted_at: int, batch_id: str) -> dict[str, str]:
    return {"requestId": f"{BATCH_RECORD_PREFIX}{request_id}#{submitted_at}#{batch_id}"}


class ItemTooLarge(PayloadTooLarge):
    """The request's item would exceed DynamoDB's item size: nothing was written (DynamoDB would refuse it)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def to_item(request: ExhaustRequest) -> dict[str, Any]:
    item = request.model_dump(mode="json", exclude_none=True)
    # Kept as JSON text: partners' configs may hold floats and nulls that DynamoDB maps would change.
    item["datasetConfig"] = json.dumps(request.datasetConfig, sort_keys=True)
    # The first files too (exhaust.requests.outputs): one attribute of JSON text, cheaper to read than nested maps.
    item["files"] = json.dumps(item.get("files", []), separators=(",", ":"))
    item["tagKey"] = request.tag_key
    size = dynamodb_item_size(item)
    if size > DYNAMODB_ITEM_MAX_BYTES:
        raise ItemTooLarge(
            f"request {request.requestId}: its item is {size} bytes, over DynamoDB's item limit of "
            f"{DYNAMODB_ITEM_MAX_BYTES} bytes ({len(request.files)} files)"
        )
    return item


def from_item(item: dict[str, Any]) -> ExhaustRequest:
    plain = _plain(item)
    plain.pop("tagKey", None)
    plain.pop(EXPIRES_AT, None)
    plain["datasetConfig"] = json.loads(plain["datasetConfig"])
    if isinstance(plain.get("files"), str):  # items written before hold a list of maps
        plain["files"] = json.loads(plain["files"])
    return ExhaustRequest.model_validate(plain)


# submittedAt is epoch milliseconds: a cursor this API handed out never holds one past 9999-12-31T23:59:59.999Z (a
# crafted one of 10**40 would otherwise reach DynamoDB's 38-digit numbers and fail in the client, a 500).
LAST_EPOCH_MS = 253_402_300_799_999


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_plain(last_key)).encode()).decode()


def decode_cursor(cursor: str | None, tag_key: str) -> dict[str, Any] | None:
    """The by-tag start key a cursor holds; one not handed out for this very list (channel and tag) is a 400."""
    return _decode_start_key(cursor, "cursor", ("tagKey", tag_key), None)


def decode_search_cursor(
    cursor: str | None, partition: tuple[str, str] | None, day_range: tuple[int, int] | None
) -> dict[str, Any] | None:
    """A search's start key: of the same index and partition (channel, status or dataset) and the same day."""
    return _decode_start_key(cursor, "request.cursor", partition, day_range)


def _decode_start_key(
    cursor: str | None, field: str, partition: tuple[str, str] | None, day_range: tuple[int, int] | None
) -> dict[str, Any] | None:
    if not cursor:
        return None
    refused = BadRequest(f"{field}: is not a cursor this API handed out for this list")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, TypeError, RecursionError):
        raise refused from None
    expected = {"requestId", partition[0], "submittedAt"} if partition else {"requestId"}
    if not isinstance(value, dict) or set(value) != expected:
        raise refused
    if partition and value[partition[0]] != partition[1]:
        raise refused
    request_id = value["requestId"]
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise refused
    if partition:
        submitted_at = value["submittedAt"]
        if not isinstance(submitted_at, int) or isinstance(submitted_at, bool):
            raise refused
        if not 0 <= submitted_at <= LAST_EPOCH_MS:
            raise refused
        if day_range and not day_range[0] <= submitted_at <= day_range[1]:
            raise refused
    return value


class RequestStore:
    """The requests table. Its indexes hold only the attributes their queries filter on (exhaust.resources), so the
    queries that answer whole requests read the index for keys, then the items by key (`_whole_items`)."""

    def __init__(self, table_name: str | None = None, retention_days: int | None = None):
        self._dynamodb = aws.resource("dynamodb")
        self.table = self._dynamodb.Table(table_name or get_settings().requests_table)
        # Finished requests expire (TTL) this many days after they ended; 0: never.
        self.retention_days = get_settings().request_retention_days if retention_days is None else retention_days

    def _item(self, request: ExhaustRequest) -> dict[str, Any]:
        """The request's item; a finished one carries its expiry when requests are retained for a while only."""
        item = to_item(request)
        if self.retention_days and request.status in FINISHED_STATUSES:
            ended_ms = request.completedAt or request.updatedAt
            item[EXPIRES_AT] = ended_ms // 1000 + self.retention_days * 86_400
        return item

    def _whole_items(self, index_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The table's items behind some index entries, in their order (one deleted meanwhile is left out)."""
        keys = list(dict.fromkeys(item["requestId"] for item in index_items))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_MAX_KEYS):
            wanted: dict[str, Any] = {
                self.table.name: {"Keys": [{"requestId": key} for key in keys[start : start + BATCH_GET_MAX_KEYS]]}
            }
            while wanted:
                answer = self._dynamodb.batch_get_item(RequestItems=wanted)
                for item in answer.get("Responses", {}).get(self.table.name, []):
                    found[item["requestId"]] = item
                wanted = answer.get("UnprocessedKeys") or {}
        return [found[key] for key in keys if key in found]

    def get(self, request_id: str) -> ExhaustRequest | None:
        item = self.table.get_item(Key={"requestId": request_id}, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def create(self, request: ExhaustRequest, open_limit: int | None = None) -> bool:
        """Store a new request; False when one with this requestId already exists.

        An open request is counted on its channel's counter in the same transaction; with `open_limit`, a channel
        already at the limit stores nothing and raises LimitReached.
        """
        item = self._item(request)
        if request.status not in OPEN_STATUSES:
            try:
                self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(requestId)")
            except aws.client_error() as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return False
                raise
            return True
        return self._write_counted(item, "attribute_not_exists(requestId)", {}, {}, request.channel, 1, open_limit)

    def replace(self, request: ExhaustRequest, expected_version: int, open_limit: int | None = None) -> ExhaustRequest:
        """Write a new state of the request if nobody changed it since `expected_version` was read.

        A request that ends (open -> SUCCESS/FAILED) leaves its channel's open count, one that opens again (a
        re-submit of a FAILED request) joins it, `open_limit` permitting: in the same transaction as the write.
        The write does not say where it comes from, so the likely previous state is tried first and the other one
        after; the version condition lets exactly one of the two succeed.
        """
        updated = request.model_copy(update={"version": expected_version + 1})
        item = self._item(updated)
        channel = updated.channel
        if updated.status in OPEN_STATUSES:
            written = self._write_if(item, expected_version, was_open=True) or self._write_transition(
                item, expected_version, channel, was_open=False, open_limit=open_limit
            )
        else:
            written = self._write_transition(
                item, expected_version, channel, was_open=True, open_limit=None
            ) or self._write_if(item, expected_version, was_open=False)
        if not written:
            raise ConcurrentUpdate(request.requestId)
        return updated

    def batch_output(self, request: ExhaustRequest, batch_id: str) -> OutputFile | None:
        """The file a builder recorded for this batch of this submission, if any."""
        key = batch_record_key(request.requestId, request.submittedAt, batch_id)
        item = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
        return OutputFile.model_validate(json.loads(item["file"])) if item else None

    def record_batch(self, request: ExhaustRequest, execution_arn: str, output: OutputFile, now_ms: int) -> bool:
        """Record a built batch and count it on the request, both or neither (TransactWriteItems).

        The record is put only if the batch has none, and the request's counters are incremented in place
        (batchesDone, rowsWritten, bytesWritten, version), only while it is PROCESSING under `execution_arn`. So
        builders running side by side never lose each other's counts, and a batch recorded twice (a retried
        invocation) counts once: False. NotOwned when the execution no longer owns the request.
        """
        record = {
            **batch_record_key(request.requestId, request.submittedAt, output.batchId),
            "file": json.dumps(output.model_dump(), sort_keys=True),
            "expiresAt": now_ms // 1000 + BATCH_RECORD_RETENTION_SECONDS,
        }
        count = {
            "TableName": self.table.name,
            "Key": {"requestId": request.requestId},
            "UpdateExpression": (
                "SET #p.batchesDone = #p.batchesDone + :one, #p.rowsWritten = #p.rowsWritten + :rows, "
                "#p.bytesWritten = if_not_exists(#p.bytesWritten, :zero) + :bytes, updatedAt = :now, "
                "#version = #version + :one REMOVE transientSince"
            ),
            "ConditionExpression": "#status = :processing AND executionArn = :execution",
            "ExpressionAttributeNames": {"#p": "progress", "#version": "version", "#status": "status"},
            "ExpressionAttributeValues": {
                ":one": 1,
                ":zero": 0,
                ":rows": output.rows,
                ":bytes": output.bytes,
                ":now": now_ms,
                ":processing": Status.PROCESSING.value,
                ":execution": execution_arn,
            },
        }
        put = {"TableName": self.table.name, "Item": record, "ConditionExpression": "attribute_not_exists(requestId)"}
        for attempt in range(TRANSACTION_CONFLICT_ATTEMPTS):
            try:
                self.table.meta.client.transact_write_items(TransactItems=[{"Put": put}, {"Update": count}])
            except aws.client_error() as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise NotOwned(request.requestId) from None
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                # Another builder's transaction held the request item at that moment: nothing was written.
                if "TransactionConflict" in reasons and attempt + 1 < TRANSACTION_CONFLICT_ATTEMPTS:
                    time.sleep(random.uniform(0, TRANSACTION_CONFLICT_BACKOFF_SECONDS * 2**attempt))
                    continue
                raise
            return True
        raise AssertionError("unreachable: the last attempt returns or raises")

    def open_count(self, channel: str) -> int:
        """The channel's counter of open (SUBMITTED or PROCESSING) requests."""
        item = self.table.get_item(Key=counter_key(channel), ConsistentRead=True).get("Item") or {}
        return int(item.get("openCount", 0))

    @staticmethod
    def _version_and_status(expected_version: int, was_open: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
        expression = "#version = :version AND " + ("" if was_open else "NOT ") + "#status IN (:open1, :open2)"
        names = {"#version": "version", "#status": "status"}
        values = {":version": expected_version, ":open1": OPEN_STATUSES[0].value, ":open2": OPEN_STATUSES[1].value}
        return expression, names, values

    def _write_if(self, item: dict[str, Any], expected_version: int, *, was_open: bool) -> bool:
        expression, names, values = self._version_and_status(expected_version, was_open)
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except aws.client_error() as error:
            # A transaction on the item at that moment (a builder recording its batch) refuses the write like a race.
            if error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionConflictException"):
                return False
            raise
        return True

    def _write_transition(
        self, item: dict[str, Any], expected_version: int, channel: str, *, was_open: bool, open_limit: int | None
    ) -> bool:
        expression, names, values = self._version_and_status(expected_version, was_open)
        return self._write_counted(item, expression, names, values, channel, -1 if was_open else 1, open_limit)

    def _write_counted(
        self,
        item: dict[str, Any],
        expression: str,
        names: dict[str, str],
        values: dict[str, Any],
        channel: str,
        delta: int,
        open_limit: int | None,
    ) -> bool:
        """Put `item` under `expression` and add `delta` to the channel's open count, both or neither."""
        put: dict[str, Any] = {"TableName": self.table.name, "Item": item, "ConditionExpression": expression}
        if names:
            put["ExpressionAttributeNames"] = names
        if values:
            put["ExpressionAttributeValues"] = values
        count: dict[str, Any] = {
            "TableName": self.table.name,
            "Key": counter_key(channel),
            "UpdateExpression": "ADD openCount :delta",
            "ExpressionAttributeValues": {":delta": delta},
        }
        if open_limit is not None and delta > 0:
            count["ConditionExpression"] = "attribute_not_exists(openCount) OR openCount < :limit"
            count["ExpressionAttributeValues"][":limit"] = open_limit
        try:
            self.table.meta.client.transact_write_items(TransactItems=[{"Put": put}, {"Update": count}])
        except aws.client_error() as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] in ("ConditionalCheckFailed", "TransactionConflict"):
                return False
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise LimitReached(channel) from None
            raise
        return True

    def list_by_tag(
        self, channel: str, tag: str, limit: int, cursor: str | None = None
    ) -> tuple[list[ExhaustRequest], str | None]:
        arguments: dict[str, Any] = {
            "IndexName": "by-tag",
            "KeyConditionExpression": Key("tagKey").eq(f"{channel}#{tag}"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, f"{channel}#{tag}")
        if start:
            arguments["ExclusiveStartKey"] = start
        page = self.table.query(**arguments)
        items = self._whole_items(page.get("Items", []))
        return [from_item(item) for item in items], encode_cursor(page.get("LastEvaluatedKey"))

    def _query_all(self, arguments: dict[str, Any]) -> list[ExhaustRequest]:
        """The requests of every entry a query of an index finds, page after page."""
        entries: list[dict[str, Any]] = []
        while True:
            page = self.table.query(**arguments)
            entries.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return [from_item(item) for item in self._whole_items(entries)]
            arguments = {**arguments, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def open_of(self, channel: str, dataset: str) -> list[ExhaustRequest]:
        """The channel's SUBMITTED and PROCESSING requests of one dataset (the status index: open ones are few)."""
        found: list[ExhaustRequest] = []
        for status in OPEN_STATUSES:
            arguments: dict[str, Any] = {
                "IndexName": "by-status",
                "KeyConditionExpression": Key("status").eq(status.value),
                "FilterExpression": Attr("channel").eq(channel) & Attr("dataset").eq(dataset),
            }
            found.extend(self._query_all(arguments))
        return found

    def count_in_status(self, status: Status, channel: str | None = None) -> int:
        """How many requests (of the channel, or of all) are in `status` (the dispatcher's throttles count them)."""
        arguments: dict[str, Any] = {
            "IndexName": "by-status",
            "KeyConditionExpression": Key("status").eq(status.value),
            "Select": "COUNT",
        }
        if channel is not None:
            arguments["FilterExpression"] = Attr("channel").eq(channel)
        total = 0
        while True:
            page = self.table.query(**arguments)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def in_status(self, status: Status, updated_before: int | None = None) -> list[ExhaustRequest]:
        """Every request in `status`, optionally only those not updated since `updated_before` (epoch ms).

        The index does not hold updatedAt (every batch a builder records changes it): the requests are filtered once
        read, which costs little as the sweeper asks only for open ones, few by the per-channel limit."""
        arguments: dict[str, Any] = {"IndexName": "by-status", "KeyConditionExpression": Key("status").eq(status.value)}
        found = self._query_all(arguments)
        if updated_before is None:
            return found
        return [request for request in found if request.updatedAt < updated_before]

    def with_pending_notices(self, status: Status, submitted_after: int) -> list[ExhaustRequest]:
        """Requests in `status`, submitted after `submitted_after` (epoch ms), whose outbox is not empty."""
        arguments: dict[str, Any] = {
            "IndexName": "by-status",
            "KeyConditionExpression": Key("status").eq(status.value) & Key("submittedAt").gt(submitted_after),
            "FilterExpression": Attr("outbox").size().gt(0),
        }
        return self._query_all(arguments)

    def _search_arguments(
        self, filters: dict[str, str], day_range: tuple[int, int] | None
    ) -> tuple[dict[str, Any], Any, tuple[str, str] | None]:
        """The query (or scan) of a search: the most selective index among channel, status and dataset."""
        arguments: dict[str, Any] = {}
        rest = dict(filters)
        partition: tuple[str, str] | None = None
        operation = self.table.scan
        for index, attribute in SEARCH_INDEXES:
            if attribute in filters:
                condition: Any = Key(attribute).eq(filters[attribute])
                if day_range:
                    condition = condition & Key("submittedAt").between(*day_range)
                arguments = {"IndexName": index, "KeyConditionExpression": condition, "ScanIndexForward": False}
                rest.pop(attribute)
                partition, operation = (attribute, filters[attribute]), self.table.query
                break
        conditions: list[Any] = [Attr(name).eq(value) for name, value in rest.items()]
        if partition is None and day_range:
            conditions.append(Attr("submittedAt").between(*day_range))
        if conditions:
            expression = conditions[0]
            for condition in conditions[1:]:
                expression = expression & condition
            arguments["FilterExpression"] = expression
        return arguments, operation, partition

    def search(
        self, filters: dict[str, str], day_range: tuple[int, int] | None, limit: int, cursor: str | None = None
    ) -> tuple[list[ExhaustRequest], str | None]:
        """One page of the requests matching all filters, newest first, and the cursor of the next page.

        It reads at most SEARCH_READ_MAX index entries, so a page of sparse matches may hold fewer than `limit`
        requests and still have a next page. A requestedDate-only search (admins) scans: newest first per page.
        """
        arguments, operation, partition = self._search_arguments(filters, day_range)
        start = decode_search_cursor(cursor, partition, day_range)
        if start:
            arguments["ExclusiveStartKey"] = start
        found: list[dict[str, Any]] = []
        read = 0
        while True:
            page = operation(**arguments, Limit=min(limit, SEARCH_READ_MAX - read))
            read += int(page.get("ScannedCount", 0))
            found.extend(page.get("Items", []))
            last_key = page.get("LastEvaluatedKey")
            if len(found) >= limit or not last_key or read >= SEARCH_READ_MAX:
                break
            arguments["ExclusiveStartKey"] = last_key
        if len(found) > limit:
            # The next page starts after the last request answered, not after the last one read.
            found = found[:limit]
            key_names = ("requestId", partition[0], "submittedAt") if partition else ("requestId",)
            last_key = {name: found[-1][name] for name in key_names}
        items = self._whole_items(found) if partition else found  # a scan reads whole items already
        requests = sorted((from_item(item) for item in items), key=lambda request: request.submittedAt, reverse=True)
        return requests, encode_cursor(last_key)

    def count_matches(self, filters: dict[str, str], day_range: tuple[int, int] | None) -> tuple[int, bool]:
        """How many requests match, and whether that is all of them: it counts within SEARCH_READ_MAX entries."""
        arguments, operation, _ = self._search_arguments(filters, day_range)
        total = read = 0
        while True:
            page = operation(**arguments, Select="COUNT", Limit=SEARCH_READ_MAX - read)
            total += int(page.get("Count", 0))
            read += int(page.get("ScannedCount", 0))
            if "LastEvaluatedKey" not in page:
                return total, True
            if read >= SEARCH_READ_MAX:
                return total, False
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
