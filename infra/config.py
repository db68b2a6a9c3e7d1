"""Deployment settings, from CDK context (`-c key=value`, cdk.json) or EXHAUST_* environment variables.

Every field is documented in docs/configuration.md, section "Settings" (a test keeps the two in step).
"""

from __future__ import annotations

import os
from typing import Any

from exhaust.aws_limits import LAMBDA_MAX_MEMORY_MB, NEW_ACCOUNT_LAMBDA_MEMORY_MB
from exhaust.lake.indexer import DEFAULT_SPARK_ABOVE_ENROLMENTS, memory_mb_needed
from exhaust.quotas import concurrency_quota_needed, reserved_concurrency
from exhaust.settings import MAX_LINK_EXPIRY_SECONDS
from pydantic import BaseModel, Field, model_validator


class StackSettings(BaseModel):
    # Names the stack (exhaust-<stage>) and the API stage, so several stacks can live in one account.
    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    # An existing lake bucket to read; a new (empty) one is created when this is empty.
    lake_bucket_name: str = Field(default="", pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # Where the lake's Parquet tables live inside the lake bucket.
    lake_prefix: str = Field(default="lake/", pattern=r"^$|^[A-Za-z0-9!_.*'()/-]*/$")
    # Request outputs (requests/...) expire after this many days (S3 lifecycle rule).
    output_retention_days: int = Field(default=30, ge=1, le=3650)
    # A batch whose end date is further back than this many days is expired ("Batch has expired").
    batch_expiry_days: int = Field(default=365, ge=1, le=36_500)
    # Lifetime of the presigned download links: at most what the signing session credentials allow.
    link_expiry_minutes: int = Field(default=30, ge=1, le=MAX_LINK_EXPIRY_SECONDS // 60)
    # Open (SUBMITTED or PROCESSING) requests a channel may have before submit answers 429.
    max_open_requests_per_channel: int = Field(default=100, ge=1)
    # Step Functions executions running at once per channel (the dispatcher's throttle).
    max_running_per_channel: int = Field(default=5, ge=1)
    # MaxConcurrency of the Distributed Map (builders running at once per request).
    map_max_concurrency: int = Field(default=10, ge=1, le=1000)
    # Concurrency reserved for the builder: guaranteed to it, and its cap (at least map_max_concurrency). 0 reserves
    # nothing for any function, for accounts whose concurrency quota is still below 1,000 (docs/deploy.md).
    builder_reserved_concurrency: int = Field(default=100, ge=0)
    # API Gateway stage throttling: steady requests per second and burst, across all callers.
    api_rate_limit: int = Field(default=50, ge=1, le=10_000)
    api_burst_limit: int = Field(default=100, ge=1, le=5_000)
    # Alarm notifications go to this address (SNS e-mail subscription, confirmed by e-mail) when set.
    alarm_email: str = Field(default="", pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # The indexer Lambda's memory: a new account's limit by default; more only where the account allows it.
    indexer_memory_mb: int = Field(default=NEW_ACCOUNT_LAMBDA_MEMORY_MB, ge=1024, le=LAMBDA_MAX_MEMORY_MB)
    # A stale lake of more enrolments than this is indexed by the Spark job on EMR Serverless, a smaller one by the
    # indexer Lambda (whose memory must hold it: about 1.1 GB per million enrolments, exhaust.lake.indexer).
    spark_above_enrolments: int = Field(default=DEFAULT_SPARK_ABOVE_ENROLMENTS, ge=0)
    # The EMR Serverless application's maximum capacity: all its workers together (its jobs queue beyond it).
    spark_max_vcpu: int = Field(default=16, ge=4, le=4000)
    spark_max_memory_gb: int = Field(default=64, ge=16, le=24_000)
    # The application stops after this many idle minutes (no charge while stopped; the next job starts it).
    spark_idle_minutes: int = Field(default=15, ge=1, le=10_080)

    @model_validator(mode="after")
    def _builder_fits_one_request(self) -> StackSettings:
        reserved = self.builder_reserved_concurrency
        if reserved and reserved < self.map_max_concurrency:
            raise ValueError(
                f"builder_reserved_concurrency: {reserved} is below map_max_concurrency ({self.map_max_concurrency}): "
                "one request's builders would throttle each other; use 0 (no reservation) or at least that"
            )
        return self

    @model_validator(mode="after")
    def _indexer_holds_what_it_indexes(self) -> StackSettings:
        needed = memory_mb_needed(self.spark_above_enrolments)
        if needed > self.indexer_memory_mb:
            raise ValueError(
                f"spark_above_enrolments: the indexer Lambda would index lakes of up to "
                f"{self.spark_above_enrolments:,} enrolments in about {needed:,} MB, more than indexer_memory_mb "
                f"({self.indexer_memory_mb:,}); lower the threshold (larger lakes go to Spark) or raise "
                "indexer_memory_mb where the account allows it"
            )
        return self

    @property
    def reserved_concurrency(self) -> dict[str, int]:
        """Function folder -> the concurrency the stack reserves for it (exhaust.quotas)."""
        return reserved_concurrency(self.builder_reserved_concurrency)

    @property
    def concurrency_quota_needed(self) -> int:
        """The account's Lambda concurrency quota the reservations need (docs/deploy.md, account limits)."""
        return concurrency_quota_needed(self.reserved_concurrency)

    @classmethod
    def from_sources(cls, context: dict[str, Any], environ: dict[str, str] | None = None) -> StackSettings:
        """Context wins over the environment; both use the field names (environment: EXHAUST_<NAME>)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            variable = f"EXHAUST_{name.upper()}"
            if context.get(name) is not None:
                values[name] = context[name]
            elif variable in env:
                values[name] = env[variable]
        return cls.model_validate(values)

    @property
    def stack_name(self) -> str:
        return f"exhaust-{self.stage}"
