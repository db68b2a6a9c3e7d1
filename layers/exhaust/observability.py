"""Powertools logger, tracer and metrics shared by every function (kept apart from handlers)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="exhaust")
tracer = Tracer(service="exhaust")
metrics = Metrics(namespace="DataExhaust", service="exhaust")
