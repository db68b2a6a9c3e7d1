"""Deployment settings, from CDK context (`-c key=value`, cdk.json) or EXHAUST_* environment variables.

Every field is documented in docs/configuration.md, section "Settings" (a test keeps the two in step).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from exhaust.api import cors
from exhaust.aws_limits import LAMBDA_MAX_MEMORY_MB, NEW_ACCOUNT_LAMBDA_MEMORY_MB
from exhaust.lake.indexer import DEFAULT_SPARK_ABOVE_ENROLMENTS, memory_mb_needed
from exhaust.quotas import concurrency_quota_needed, reserved_concurrency
from exhaust.settings import MAX_LINK_EXPIRY_SECONDS
from pydantic import BaseModel, Field, field_validator, model_validator

# Requests running at once when the builder reserves nothing (the runtime's default, exhaust.settings).
UNRESERVED_RUNNING_TOTAL = 10


class StackSettings(BaseModel):
    # Names the stack (exhaust-<stage>) and the API stage, so several stacks can live in one account.
    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    # An existing lake bucket to read; a new (empty) one is created when this is empty.
    lake_bucket_name: str = Field(default="", pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # The KMS key of an existing lake bucket encrypted with SSE-KMS (key ARN): its readers get kms:Decrypt on it, the
    # indexer also kms:GenerateDataKey (it writes the derived tables). Empty: the lake uses S3-managed keys.
    lake_kms_key_arn: str = Field(default="", pattern=r"^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
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
    # Requests running at once across channels (the dispatcher's global cap). 0 derives it from the builder's
    # reservation (builder_reserved_concurrency // map_max_concurrency, or 10 without a reservation); a value whose
    # builders (x map_max_concurrency) exceed the reservation is refused: they would be throttled for ever.
    max_running_total: int = Field(default=0, ge=0)
    # A finished (SUCCESS or FAILED) request's item is deleted by DynamoDB TTL this many days after it ended; list and
    # search stop showing it (docs/dynamodb.md). 0 keeps requests for ever.
    request_retention_days: int = Field(default=365, ge=0, le=36_500)
    # API Gateway stage throttling: steady requests per second and burst, across all callers.
    api_rate_limit: int = Field(default=50, ge=1, le=10_000)
    api_burst_limit: int = Field(default=100, ge=1, le=5_000)
    # Where the zip functions get Powertools, pydantic and the X-Ray SDK: "bundled" installs the lock's pins into a
    # layer of the stack's own (any region); "public" uses the official Powertools layer through its public SSM
    # parameter, published in Powertools' regions only (docs/deploy.md, "Supported regions").
    powertools_layer: Literal["bundled", "public"] = "bundled"
    # Set the region's API Gateway CloudWatch role (an account-wide setting, one per region: a stack that sets it
    # replaces whatever was there). Off: the API logs through the role the account already has (docs/deploy.md).
    api_cloudwatch_role: bool = False
    # Keep the data when the stack is deleted: tables, buckets, KMS keys, the callback secret (default). False deletes
    # them with the stack, buckets emptied first: for throw-away stages only. Log groups always go with the stack.
    retain: bool = True
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
    # Origins whose browser pages may call the API, comma-separated (exhaust.api.cors): none by default.
    cors_allowed_origins: str = ""

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        cors.parse_origins(value)
        return value

    @model_validator(mode="after")
    def _builder_fits_one_request(self) -> StackSettings:
        reserved = self.builder_reserved_concurrency
        if reserved and reserved < self.map_max_concurrency:
            raise ValueError(
                f"builder_reserved_concurrency: {reserved} is below map_max_concurrency ({self.map_max_concurrency}): "
                "one request's builders would throttle each other; use 0 (no reservation) or at least that"
            )
        if self.max_running_total and reserved and self.max_running_total * self.map_max_concurrency > reserved:
            raise ValueError(
                f"max_running_total: {self.max_running_total} requests x map_max_concurrency "
                f"{self.map_max_concurrency} = {self.max_running_total * self.map_max_concurrency} builders, over "
                f"builder_reserved_concurrency ({reserved}): builders beyond the reservation are throttled for ever; "
                f"use at most {reserved // self.map_max_concurrency}, 0 to derive it, or raise the reservation"
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

    @property
    def running_total(self) -> int:
        """The dispatcher's cap on running requests: the setting, or what the builder's reservation affords."""
        if self.max_running_total:
            return self.max_running_total
        reserved = self.builder_reserved_concurrency
        return reserved // self.map_max_concurrency if reserved else UNRESERVED_RUNNING_TOTAL

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
