"""DynamoDB adapter of the requests table. Every state change is a conditional write (docs/dynamodb.md)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from exhaust import aws
from exhaust.errors import BadRequest
from exhaust.requests.models import OPEN_STATUSES, ExhaustRequest, Status
from exhaust.settings import get_settings


class ConcurrentUpdate(Exception):
    """A conditional write lost: someone else changed the request first."""


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
    item["tagKey"] = request.tag_key
    return item


def from_item(item: dict[str, Any]) -> ExhaustRequest:
    plain = _plain(item)
    plain.pop("tagKey", None)
    plain["datasetConfig"] = json.loads(plain["datasetConfig"])
    return ExhaustRequest.model_validate(plain)


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_plain(last_key)).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise BadRequest("cursor: is not a cursor this API handed out") from None
    if not isinstance(value, dict):
        raise BadRequest("cursor: is not a cursor this API handed out")
    return value


class RequestStore:
    def __init__(self, table_name: str | None = None):
        self.table = aws.resource("dynamodb").Table(table_name or get_settings().requests_table)

    def get(self, request_id: str) -> ExhaustRequest | None:
        item = self.table.get_item(Key={"requestId": request_id}, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def create(self, request: ExhaustRequest) -> bool:
        """Store a new request; False when one with this requestId already exists."""
        try:
            self.table.put_item(Item=to_item(request), ConditionExpression="attribute_not_exists(requestId)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def replace(self, request: ExhaustRequest, expected_version: int) -> ExhaustRequest:
        """Write a new state of the request if nobody changed it since `expected_version` was read."""
        updated = request.model_copy(update={"version": expected_version + 1})
        try:
            self.table.put_item(
                Item=to_item(updated),
                ConditionExpression=Attr("version").eq(expected_version),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(request.requestId) from None
            raise
        return updated

    def list_by_tag(
        self, channel: str, tag: str, limit: int, cursor: str | None = None
    ) -> tuple[list[ExhaustRequest], str | None]:
        arguments: dict[str, Any] = {
            "IndexName": "by-tag",
            "KeyConditionExpression": Key("tagKey").eq(f"{channel}#{tag}"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor)
        if start:
            arguments["ExclusiveStartKey"] = start
        page = self.table.query(**arguments)
        return [from_item(item) for item in page.get("Items", [])], encode_cursor(page.get("LastEvaluatedKey"))

    def count_open(self, channel: str) -> int:
        total = 0
        for status in OPEN_STATUSES:
            arguments: dict[str, Any] = {
                "IndexName": "by-status",
                "KeyConditionExpression": Key("status").eq(status.value),
                "FilterExpression": Attr("channel").eq(channel),
                "Select": "COUNT",
            }
            while True:
                page = self.table.query(**arguments)
                total += int(page.get("Count", 0))
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return total

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
        """Every request in `status`, optionally only those not updated since `updated_before` (epoch ms)."""
        arguments: dict[str, Any] = {"IndexName": "by-status", "KeyConditionExpression": Key("status").eq(status.value)}
        if updated_before is not None:
            arguments["FilterExpression"] = Attr("updatedAt").lt(updated_before)
        found: list[ExhaustRequest] = []
        while True:
            page = self.table.query(**arguments)
            found.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def with_pending_notices(self, status: Status, submitted_after: int) -> list[ExhaustRequest]:
        """Requests in `status`, submitted after `submitted_after` (epoch ms), whose outbox is not empty."""
        arguments: dict[str, Any] = {
            "IndexName": "by-status",
            "KeyConditionExpression": Key("status").eq(status.value) & Key("submittedAt").gt(submitted_after),
            "FilterExpression": Attr("outbox").size().gt(0),
        }
        found: list[ExhaustRequest] = []
        while True:
            page = self.table.query(**arguments)
            found.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def search(self, filters: dict[str, str], day_range: tuple[int, int] | None) -> list[ExhaustRequest]:
        """Every request matching all filters, newest first. Uses the most selective index available."""
        for index, attribute in (
            ("by-channel", "channel"),
            ("by-status", "status"),
            ("by-dataset", "dataset"),
        ):
            if attribute in filters:
                condition: Any = Key(attribute).eq(filters[attribute])
                if day_range:
                    condition = condition & Key("submittedAt").between(*day_range)
                arguments: dict[str, Any] = {
                    "IndexName": index,
                    "KeyConditionExpression": condition,
                    "ScanIndexForward": False,
                }
                rest = {name: value for name, value in filters.items() if name != attribute}
                operation = self.table.query
                break
        else:
            arguments, rest, operation = {}, dict(filters), self.table.scan
            if day_range:
                rest_condition = Attr("submittedAt").between(*day_range)
                arguments["FilterExpression"] = rest_condition
        filter_expression = arguments.get("FilterExpression")
        for name, value in rest.items():
            condition = Attr(name).eq(value)
            filter_expression = condition if filter_expression is None else filter_expression & condition
        if filter_expression is not None:
            arguments["FilterExpression"] = filter_expression
        found: list[ExhaustRequest] = []
        while True:
            page = operation(**arguments)
            found.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(found, key=lambda request: request.submittedAt, reverse=True)
