"""Powertools logger, tracer and metrics shared by every function (kept apart from handlers)."""

from __future__ import annotations

import re

from aws_lambda_powertools import Logger, Metrics, Tracer

# scheme://user:password@host -> scheme://***@host, and the `password@host` tail urllib's errors show alone.
_URL_CREDENTIALS = re.compile(r"(?:(?<=//)|(?<=\s)|(?<=^)|(?<=['\"(]))[^\s/@'\"()]+@")

logger = Logger(service="exhaust")
tracer = Tracer(service="exhaust")
metrics = Metrics(namespace="DataExhaust", service="exhaust")


def redact_url_credentials(text: str) -> str:
    """`text` with the userinfo of any URL in it (user:password@) replaced by ***@: safe to log."""
    return _URL_CREDENTIALS.sub("***@", text)
