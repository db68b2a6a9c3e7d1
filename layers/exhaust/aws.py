"""boto3 clients, created on first use and cached (never at import time).

Local mode points every client at the moto server through the standard AWS_ENDPOINT_URL variable.
"""

from __future__ import annotations

from functools import cache
from typing import Any

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


def reset_clients() -> None:
    """Forget cached clients, e.g. after local mode or a test changed the endpoint."""
    client.cache_clear()
    resource.cache_clear()
