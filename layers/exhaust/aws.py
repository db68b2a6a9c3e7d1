"""boto3 clients, created on first use and cached (never at import time).

Local mode points every client at the moto server through the standard AWS_ENDPOINT_URL variable.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import BotoCoreError, ClientError

# boto3 is imported on the first client, not with this module: it costs about 0.15 s of a cold start that
# handlers answering without AWS calls (health, docs, a refused token) need not pay.


@cache
def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")


@cache
def client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=_config())  # type: ignore[call-overload]


@cache
def resource(service: str) -> Any:
    import boto3

    return boto3.session.Session().resource(service, config=_config())  # type: ignore[call-overload]


def client_error() -> type[ClientError]:
    """botocore's ClientError, for `except client_error() as error:`.

    An except clause's expression is evaluated only when an exception reaches it, so botocore is not imported
    before a call to AWS has failed (by then the call has imported it).
    """
    from botocore.exceptions import ClientError as BotocoreClientError

    return BotocoreClientError


def transport_errors() -> tuple[type[ClientError], type[BotoCoreError]]:
    """botocore's ClientError and BotoCoreError (the base of its connection and timeout errors)."""
    from botocore import exceptions

    return exceptions.ClientError, exceptions.BotoCoreError


def condition_key(name: str) -> Any:
    """boto3's `Key(name)` for a DynamoDB key condition, imported on first use."""
    from boto3.dynamodb.conditions import Key

    return Key(name)


def condition_attr(name: str) -> Any:
    """boto3's `Attr(name)` for a DynamoDB filter or condition expression, imported on first use."""
    from boto3.dynamodb.conditions import Attr

    return Attr(name)


def reset_clients() -> None:
    """Forget cached clients, e.g. after local mode or a test changed the endpoint."""
    client.cache_clear()
    resource.cache_clear()
