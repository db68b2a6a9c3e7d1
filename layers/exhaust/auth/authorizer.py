"""The REQUEST authorizer's answer: Bearer token -> principal (channels, roles, user) and an IAM policy.

Channel and role rules are checked by each route's handler, so one cached policy (keyed on the token) serves every
route: the policy allows the whole API for a valid token, and UnauthorizedToken means 401.
"""

from __future__ import annotations

from typing import Any

from exhaust.auth.checks import authenticate_token, bearer_token
from exhaust.auth.credentials import CredentialStore
from exhaust.errors import Unauthorized
from exhaust.observability import logger


class UnauthorizedToken(Exception):
    """API Gateway turns an authorizer failure whose message is exactly "Unauthorized" into a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def api_wildcard_arn(method_arn: str) -> str:
    """arn:aws:execute-api:region:account:api-id/stage/METHOD/path -> .../api-id/stage/*"""
    head, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{head}/{stage}/*"


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    headers = {str(key).lower(): str(value) for key, value in (event.get("headers") or {}).items()}
    try:
        principal = authenticate_token(bearer_token(headers.get("authorization")), CredentialStore())
    except Unauthorized as refused:
        logger.info("token refused", extra={"reason": refused.message})
        raise UnauthorizedToken from None
    return {
        "principalId": principal.credential_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": api_wildcard_arn(event["methodArn"])}
            ],
        },
        "context": principal.to_authorizer_context(),
    }
