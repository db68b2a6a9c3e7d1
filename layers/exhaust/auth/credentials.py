"""API tokens and license keys: random secrets shown once, stored only as SHA-256 hashes in DynamoDB."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from exhaust import aws
from exhaust.settings import get_settings

TOKEN_PREFIX = "exh_"  # noqa: S105 - a prefix, not a secret
LICENSE_PREFIX = "lic_"
SECRET_BYTES = 32

CredentialKind = Literal["token", "license"]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def resource_id_of(partner_id: str) -> str:
    """The legacy API names a partner's data by the SHA-1 hex of the partner id (seed 000)."""
    return hashlib.sha1(partner_id.encode("utf-8"), usedforsecurity=False).hexdigest()


class Credential(BaseModel):
    """One stored credential. `secretHash` is the only trace of the secret."""

    secretHash: str
    credentialId: str
    kind: CredentialKind
    name: str
    channels: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    userId: str = ""
    # COURSE_ADMIN tokens: the courses named at creation (the lake's batches may entitle the user to more).
    courses: list[str] = Field(default_factory=list)
    resourceIds: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    createdAt: int
    expiresAt: int | None = None
    revoked: bool = False

    def is_usable(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return not self.revoked and (self.expiresAt is None or now < self.expiresAt)

    def public_view(self) -> dict[str, Any]:
        """What listing may show: everything but the hash."""
        return self.model_dump(exclude={"secretHash"})


class CredentialStore:
    def __init__(self, table_name: str | None = None):
        self.table = aws.resource("dynamodb").Table(table_name or get_settings().credentials_table)

    def create(
        self,
        kind: CredentialKind,
        name: str,
        *,
        channels: list[str] | None = None,
        roles: list[str] | None = None,
        user_id: str = "",
        courses: list[str] | None = None,
        resource_ids: list[str] | None = None,
        datasets: list[str] | None = None,
        expires_in_days: int | None = None,
    ) -> tuple[str, Credential]:
        """Create a credential; answer the secret (the only time it exists in clear) and the record."""
        prefix = TOKEN_PREFIX if kind == "token" else LICENSE_PREFIX
        secret = prefix + secrets.token_urlsafe(SECRET_BYTES)
        now = int(time.time())
        credential = Credential(
            secretHash=hash_secret(secret),
            credentialId=secrets.token_hex(8),
            kind=kind,
            name=name,
            channels=channels or [],
            roles=roles or [],
            userId=user_id or name,
            courses=courses or [],
            resourceIds=resource_ids or [],
            datasets=datasets or [],
            createdAt=now,
            expiresAt=now + expires_in_days * 86400 if expires_in_days else None,
        )
        self.table.put_item(
            Item=credential.model_dump(exclude_none=True),
            ConditionExpression="attribute_not_exists(secretHash)",
        )
        return secret, credential

    def find(self, secret: str) -> Credential | None:
        """The credential whose hash matches the secret, compared in constant time."""
        presented = hash_secret(secret)
        item = self.table.get_item(Key={"secretHash": presented}, ConsistentRead=True).get("Item")
        if not item or not hmac.compare_digest(str(item["secretHash"]), presented):
            return None
        return Credential.model_validate(_plain(item))

    def all_credentials(self, kind: CredentialKind | None = None) -> list[Credential]:
        arguments: dict[str, Any] = {}
        if kind:
            from boto3.dynamodb.conditions import Attr  # boto3 on first use: see exhaust.aws

            arguments["FilterExpression"] = Attr("kind").eq(kind)
        found: list[Credential] = []
        while True:
            page = self.table.scan(**arguments)
            found.extend(Credential.model_validate(_plain(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(found, key=lambda credential: credential.createdAt)

    def revoke(self, credential_id: str) -> Credential | None:
        for credential in self.all_credentials():
            if credential.credentialId == credential_id:
                self.table.update_item(
                    Key={"secretHash": credential.secretHash},
                    UpdateExpression="SET revoked = :true",
                    ConditionExpression="attribute_exists(secretHash)",
                    ExpressionAttributeValues={":true": True},
                )
                return credential.model_copy(update={"revoked": True})
        return None


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB answers numbers as Decimal; the model wants ints."""
    return {key: int(value) if type(value).__name__ == "Decimal" else value for key, value in item.items()}
