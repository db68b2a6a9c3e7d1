"""REQUEST authorizer: Bearer token -> principal (channels, roles, user) for every private route.

Channel and role rules are checked by the route's handler, so one cached policy (keyed on the token) serves every
route: the policy allows the whole API for a valid token, and an exception means 401.
"""

from typing import Any

from exhaust.auth.checks import authenticate_token, bearer_token
from exhaust.errors import Unauthorized
from exhaust.observability import logger


def api_wildcard_arn(method_arn: str) -> str:
    # arn:aws:execute-api:region:account:api-id/stage/METHOD/path -> .../api-id/stage/*
    head, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{head}/{stage}/*"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    try:
        principal = authenticate_token(bearer_token(headers.get("authorization")))
    except Unauthorized as refused:
        logger.info("token refused", extra={"reason": refused.message})
        raise Exception("Unauthorized") from None  # API Gateway turns exactly this into a 401
    return {
        "principalId": principal.credential_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": api_wildcard_arn(event["methodArn"]),
                }
            ],
        },
        "context": principal.to_authorizer_context(),
    }
