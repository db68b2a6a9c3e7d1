"""Runtime settings of the Lambdas and local mode, read from the environment when first asked for."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field

from exhaust import resources
from exhaust.aws_limits import LAMBDA_MAX_TIMEOUT_SECONDS

# Links are signed with the Lambda role's session credentials, and a presigned URL stops working when the
# credentials that signed it expire, whatever its X-Amz-Expires says (S3 User Guide, "Sharing objects with
# presigned URLs"). An hour stays within what those sessions last; a later read signs fresh links.
MAX_LINK_EXPIRY_SECONDS = 3600


class RuntimeSettings(BaseModel):
    """What a function needs to know about its environment. Every field has an environment variable."""

    requests_table: str = ""
    idempotency_table: str = ""
    credentials_table: str = ""
    datasets_table: str = ""
    exhaust_bucket: str = ""
    lake_bucket: str = ""
    public_bucket: str = ""
    queue_url: str = ""
    dead_letter_queue_url: str = ""
    secrets_key_id: str = ""
    state_machine_arn: str = ""
    event_bus_name: str = "default"
    # https://<distribution domain> in AWS; http://127.0.0.1:<port>/cdn locally.
    cdn_base_url: str = ""
    # The CloudFront distribution the producer invalidates after writing public files (AWS; locally none).
    cdn_distribution_id: str = ""
    lake_prefix: str = resources.LAKE_PREFIX
    link_expiry_seconds: int = Field(default=1800, ge=60, le=MAX_LINK_EXPIRY_SECONDS)
    # Zips up to this size are answered inline (base64 adds a third: 3.75 MB -> 5 MB, under Lambda's 6 MB
    # response limit); larger ones are a 303 to a presigned link (legacy and export APIs).
    max_inline_download_bytes: int = Field(default=3_750_000, ge=0, le=4_000_000)
    max_open_requests_per_channel: int = Field(default=100, ge=1)
    max_running_per_channel: int = Field(default=5, ge=1)
    # Across all channels: with map_max_concurrency builders each, this many requests stay within the builder's
    # concurrency, so Lambda throttling is the exception (docs/pipeline.md, "Faults and recovery").
    max_running_total: int = Field(default=10, ge=1)
    output_retention_days: int = Field(default=30, ge=1)
    # A batch whose end date lies further back than this is expired: its learners' data is no longer exported.
    batch_expiry_days: int = Field(default=365, ge=1)
    callback_secret: str = ""
    # Secrets Manager secret holding the callback signing secret (AWS); callback_secret wins when set (local mode).
    callback_secret_arn: str = ""
    # The sweeper re-queues requests SUBMITTED (untouched) this long, and recovers PROCESSING ones without
    # progress this long even when their execution still runs. A retry may wait up to SQS's 15-minute delay, so
    # only a request whose queue send failed at submit is re-queued sooner, after sweep_unqueued_after_seconds.
    sweep_submitted_after_seconds: int = Field(default=900, ge=1)
    sweep_unqueued_after_seconds: int = Field(default=30, ge=0)
    sweep_stuck_after_seconds: int = Field(default=6 * 3600, ge=60)
    # The builder's limits as deployed, named to the partner when a batch outgrows them (a Lambda.Unknown).
    builder_timeout_seconds: int = Field(default=resources.BUILDER_TIMEOUT_SECONDS, ge=1, le=LAMBDA_MAX_TIMEOUT_SECONDS)
    builder_memory_mb: int = Field(default=resources.BUILDER_MEMORY_MB, ge=128)
    # The on-demand zips' deflate level (ISA-L): 0 fastest ... 3 smallest; docs/benchmarks.md has the trade-off.
    zip_compression_level: int = Field(default=1, ge=0, le=3)

    @property
    def lake_uri(self) -> str:
        """Where the lake's tables are: s3://{lake bucket}/{prefix without its trailing slash}."""
        return f"s3://{self.lake_bucket}/{self.lake_prefix.strip('/')}"

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for name in cls.model_fields:
            variable = f"EXHAUST_{name.upper()}"
            if variable in env:
                values[name] = env[variable]
        return cls.model_validate(values)

    def as_environ(self) -> dict[str, str]:
        return {f"EXHAUST_{name.upper()}": str(value) for name, value in self.model_dump().items()}


@lru_cache(maxsize=1)
def get_settings() -> RuntimeSettings:
    return RuntimeSettings.from_environ()
