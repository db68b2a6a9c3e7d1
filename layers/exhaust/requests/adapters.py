"""Small AWS adapters the request operations use: the queue (SQS), the key vault (KMS), idempotency records
(DynamoDB), links (S3). Each satisfies its port of exhaust.ports."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from exhaust import aws
from exhaust.aws_limits import SQS_MESSAGE_MAX_BYTES
from exhaust.errors import Conflict
from exhaust.settings import get_settings

IDEMPOTENCY_SECONDS = 24 * 3600
CLAIM_ATTEMPTS = 3


class MessageTooLarge(ValueError):
    """A message SQS would refuse (over its message size): nothing was sent."""


class RequestQueue:
    def __init__(self, queue_url: str | None = None):
        self.queue_url = queue_url or get_settings().queue_url

    def send(self, request_id: str, attempt: int = 0, delay_seconds: int = 0) -> None:
        body = json.dumps({"requestId": request_id, "attempt": attempt})
        size = len(body.encode("utf-8"))
        if size > SQS_MESSAGE_MAX_BYTES:
            raise MessageTooLarge(f"queue message: {size} bytes, over SQS's message limit of {SQS_MESSAGE_MAX_BYTES}")
        aws.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=delay_seconds)

    def hold(self, receipt_handle: str, seconds: int) -> None:
        """Keep a received message invisible `seconds` from now (it comes back then unless deleted)."""
        aws.client("sqs").change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


class KeyVault:
    """Encrypts partners' encryption keys with the service's KMS key, bound to the request by its id."""

    def __init__(self, key_id: str | None = None):
        self.key_id = key_id or get_settings().secrets_key_id

    def encrypt(self, secret: str, request_id: str) -> str:
        blob = aws.client("kms").encrypt(
            KeyId=self.key_id, Plaintext=secret.encode("utf-8"), EncryptionContext={"requestId": request_id}
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def decrypt(self, ciphertext: str, request_id: str) -> str:
        plaintext = aws.client("kms").decrypt(
            CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext={"requestId": request_id}
        )["Plaintext"]
        return bytes(plaintext).decode("utf-8")


class IdempotencyRecords:
    def __init__(self, table_name: str | None = None):
        self.table = aws.resource("dynamodb").Table(table_name or get_settings().idempotency_table)

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"idempotencyKey": key}, ConsistentRead=True).get("Item")
        # DynamoDB's TTL deletes late: an expired record no longer counts.
        if not item or int(item["expiresAt"]) < time.time():
            return None
        return dict(item)

    def claim(self, key: str, body_hash: str, request_id: str) -> dict[str, Any] | None:
        """Bind `key` to this body, unless a live record holds it already: None when claimed, else that record."""
        for _ in range(CLAIM_ATTEMPTS):
            now = int(time.time())
            try:
                self.table.put_item(
                    Item={
                        "idempotencyKey": key,
                        "bodyHash": body_hash,
                        "requestId": request_id,
                        "expiresAt": now + IDEMPOTENCY_SECONDS,
                    },
                    ConditionExpression="attribute_not_exists(idempotencyKey) OR expiresAt < :now",
                    ExpressionAttributeValues={":now": now},
                )
                return None
            except aws.client_error() as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
            holder = self.get(key)
            if holder is not None:
                return holder
            # The holder expired or released the key between our write and our read: claim it again.
        raise Conflict("Idempotency-Key: is being claimed and released concurrently; retry")

    def release(self, key: str, body_hash: str) -> None:
        """Free a key this body claimed but could not use (nothing was stored)."""
        try:
            self.table.delete_item(
                Key={"idempotencyKey": key},
                ConditionExpression="bodyHash = :hash",
                ExpressionAttributeValues={":hash": body_hash},
            )
        except aws.client_error() as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


class LinkSigner:
    """Fresh presigned GET links to objects of the exhaust bucket."""

    def __init__(self, bucket: str | None = None, expiry_seconds: int | None = None):
        settings = get_settings()
        self.bucket = bucket or settings.exhaust_bucket
        self.expiry_seconds = expiry_seconds or settings.link_expiry_seconds

    def sign(self, key: str, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return str(aws.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=self.expiry_seconds))

    def expires_at_ms(self, now_ms: int) -> int:
        return now_ms + self.expiry_seconds * 1000
