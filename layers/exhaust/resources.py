"""The service's AWS resources, described once.

The CDK constructs and local mode both build their tables, buckets and queues from these specs, and every
Lambda learns the physical names from the environment variables named here (never hard-coded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exhaust.aws_limits import LAMBDA_MAX_TIMEOUT_SECONDS, NEW_ACCOUNT_LAMBDA_MEMORY_MB


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str | None = None


# Key attributes stored as numbers (epoch milliseconds); every other key attribute is a string.
NUMBER_KEY_ATTRIBUTES = frozenset({"submittedAt"})


def key_type(attribute: str) -> str:
    return "N" if attribute in NUMBER_KEY_ATTRIBUTES else "S"


@dataclass(frozen=True)
class TableSpec:
    name: str
    env_var: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class BucketSpec:
    name: str
    env_var: str


@dataclass(frozen=True)
class QueueSpec:
    name: str
    env_var: str
    dead_letter_env_var: str
    visibility_timeout_seconds: int = 120
    max_receive_count: int = 5


# Exhaust requests. Access patterns (docs/dynamodb.md): read by requestId, list by channel+tag, search by
# channel / status / dataset, each newest first on `submittedAt`. The builders' per-batch records live here too,
# expired by TTL (requests never carry `expiresAt`).
REQUESTS_TABLE = TableSpec(
    name="requests",
    env_var="EXHAUST_REQUESTS_TABLE",
    partition_key="requestId",
    indexes=(
        IndexSpec("by-tag", "tagKey", "submittedAt"),
        IndexSpec("by-channel", "channel", "submittedAt"),
        IndexSpec("by-status", "status", "submittedAt"),
        IndexSpec("by-dataset", "dataset", "submittedAt"),
    ),
    ttl_attribute="expiresAt",
)
# Idempotency-Key records, expired by DynamoDB TTL after 24 hours.
IDEMPOTENCY_TABLE = TableSpec(
    name="idempotency",
    env_var="EXHAUST_IDEMPOTENCY_TABLE",
    partition_key="idempotencyKey",
    ttl_attribute="expiresAt",
)
# API tokens and legacy license keys, stored only as SHA-256 hashes.
CREDENTIALS_TABLE = TableSpec(
    name="credentials",
    env_var="EXHAUST_CREDENTIALS_TABLE",
    partition_key="secretHash",
)
# The dataset registry.
DATASETS_TABLE = TableSpec(
    name="datasets",
    env_var="EXHAUST_DATASETS_TABLE",
    partition_key="datasetId",
)
TABLES: tuple[TableSpec, ...] = (REQUESTS_TABLE, IDEMPOTENCY_TABLE, CREDENTIALS_TABLE, DATASETS_TABLE)

# Request outputs (requests/...) and standard datasets (data-exhaust/...).
EXHAUST_BUCKET = BucketSpec("exhaust", "EXHAUST_EXHAUST_BUCKET")
# The data lake the builders read (Parquet).
LAKE_BUCKET = BucketSpec("lake", "EXHAUST_LAKE_BUCKET")
# Public datasets, served through CloudFront.
PUBLIC_BUCKET = BucketSpec("public", "EXHAUST_PUBLIC_BUCKET")
BUCKETS: tuple[BucketSpec, ...] = (EXHAUST_BUCKET, LAKE_BUCKET, PUBLIC_BUCKET)

EXHAUST_QUEUE = QueueSpec("exhaust-requests", "EXHAUST_QUEUE_URL", "EXHAUST_DEAD_LETTER_QUEUE_URL")

# KMS key that encrypts the partner's encryptionKey at rest.
SECRETS_KEY_ENV_VAR = "EXHAUST_SECRETS_KEY_ID"
SECRETS_KEY_ALIAS = "exhaust-secrets"

# The function folders (functions/<name>) shipped as container images, built from the one functions/Dockerfile:
# they read Parquet with pyarrow, too large for a zip Lambda next to the Powertools layer.
IMAGE_FUNCTIONS = ("plan", "builder", "producer", "legacy", "export", "indexer")
# The builder's limits (infra/builder.py deploys it with them): memory for pyarrow's row groups and the zip pipeline
# (2 vCPUs, 1 per 1,769 MB; as much as a new account allows), and Lambda's longest timeout for one large batch. A
# batch that outgrows either fails alone, and its request's statusMessage names both (exhaust.pipeline).
BUILDER_MEMORY_MB = NEW_ACCOUNT_LAMBDA_MEMORY_MB
BUILDER_TIMEOUT_SECONDS = LAMBDA_MAX_TIMEOUT_SECONDS

# What every function's environment holds besides the resources' names (the stack sets it; local mode and the
# cold-start benchmark use it too).
FUNCTION_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "exhaust",
    "POWERTOOLS_METRICS_NAMESPACE": "DataExhaust",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    # pydantic looks for plugins in every installed distribution's entry points when it builds its first model
    # (about 10-20 ms of each cold start); the service uses none.
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
}

# Prefixes inside the buckets.
REQUESTS_PREFIX = "requests/"
STANDARD_DATASETS_PREFIX = "data-exhaust/"
LAKE_PREFIX = "lake/"
# The lake's tables `exhaust lake index` derives from the others (exhaust.lake.materialized.DERIVED_TABLES): the only
# ones the scheduled indexer may write.
DERIVED_LAKE_TABLES = ("batch_users", "userinfo_lines", "response_lines")
# Legacy day archives and export zips too large to answer inline: presigned, expired after a day (infra/storage.py).
LEGACY_PREFIX = "legacy/"
EXPORTS_PREFIX = "exports/"
# The workflow's working files (Plan's batch lists, the Distributed Map's results), expired after a week.
PIPELINE_PREFIX = "pipeline/"
# Plan's batch lists under plans/, the Distributed Map's results under map-results/{map run id}/ (the ResultWriter
# adds the id).
PLANS_PREFIX = f"{PIPELINE_PREFIX}plans/"
MAP_RESULTS_PREFIX = f"{PIPELINE_PREFIX}map-results"
PIPELINE_RETENTION_DAYS = 7


@dataclass(frozen=True)
class LocalNames:
    """Physical names local mode gives the resources (the stack lets CloudFormation name them)."""

    prefix: str = "exhaust-local"
    extra: dict[str, str] = field(default_factory=dict)

    def table(self, spec: TableSpec) -> str:
        return f"{self.prefix}-{spec.name}"

    def bucket(self, spec: BucketSpec) -> str:
        return f"{self.prefix}-{spec.name}"

    def queue(self, spec: QueueSpec) -> str:
        return f"{self.prefix}-{spec.name}"

    def dead_letter_queue(self, spec: QueueSpec) -> str:
        return f"{self.prefix}-{spec.name}-dlq"
