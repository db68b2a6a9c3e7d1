"""What each function may touch: one declarative table, applied as exact IAM statements.

Every API function of the route table is a key here (an empty tuple means "nothing beyond its logs and
X-Ray"); tests/infra asserts that, so a new route cannot silently deploy without a decision about its access.
A function missing from the table gets no grant at all. Statements name exact actions (no `s3:Get*`) and exact
resources: tables and their indexes by ARN, objects under one prefix, the queue, the key. The only wildcards are
`<prefix>*` object ARNs, each acknowledged for cdk-nag where it is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import aws_iam, aws_lambda
from exhaust import resources
from exhaust.readiness import MARKER_NAME
from exhaust.resources import EXPORTS_PREFIX, LEGACY_PREFIX, MAP_RESULTS_PREFIX, PLANS_PREFIX

from infra.nag import acknowledge, iam5_resource

if TYPE_CHECKING:
    from infra.storage import Storage


@dataclass(frozen=True)
class Table:
    """Items of one table (by TableSpec.name) and its indexes; write adds Put/Update/Delete.

    lookup_only: GetItem by key and nothing else (no Query, no Scan, no index): for the credentials table, looked up
    by a secret's hash, where listing would hand out every credential's record.
    """

    name: str
    write: bool = False
    lookup_only: bool = False


@dataclass(frozen=True)
class Objects:
    """Objects of one bucket (by BucketSpec.name) under a prefix (None: the lake prefix of the settings).

    read: GetObject (also what a presigned GET needs); list: ListBucket limited to the prefix; write: PutObject;
    delete: DeleteObject (a cancel or delete removes a request's files; a step its own file of a cancelled request).
    """

    bucket: str
    prefix: str | None
    read: bool = True
    list: bool = False
    write: bool = False
    delete: bool = False


@dataclass(frozen=True)
class SendToQueue:
    """SendMessage on the requests queue."""


@dataclass(frozen=True)
class EncryptSecrets:
    """kms:Encrypt with the secrets key (the partner's encryptionKey is stored encrypted)."""


@dataclass(frozen=True)
class DecryptSecrets:
    """kms:Decrypt with the secrets key (only the builder reads the encryptionKey back)."""


@dataclass(frozen=True)
class ReadLakeMarker:
    """GetObject on exactly the lake's completeness marker (exhaust.readiness), nothing else of the lake."""


@dataclass(frozen=True)
class WriteDerivedTables:
    """Put and delete the files of the lake's derived tables (their runs, pointers and the digests an index run
    records) and of its course directory (exhaust lake index), and nothing else of the lake."""


@dataclass(frozen=True)
class ReadCourseDirectory:
    """GetObject on the lake's course directory (exhaust.auth.directory), with ListBucket limited to it so that a
    channel without a document answers NoSuchKey (not AccessDenied); nothing else of the lake."""


Grant = (
    Table
    | Objects
    | SendToQueue
    | EncryptSecrets
    | DecryptSecrets
    | ReadLakeMarker
    | WriteDerivedTables
    | ReadCourseDirectory
)

REQUESTS_READ = Table(resources.REQUESTS_TABLE.name)
DATASETS_READ = Table(resources.DATASETS_TABLE.name)
CREDENTIALS_READ = Table(resources.CREDENTIALS_TABLE.name, lookup_only=True)
LAKE_READ = Objects(resources.LAKE_BUCKET.name, None, list=True)
REQUEST_OUTPUTS_READ = Objects(resources.EXHAUST_BUCKET.name, resources.REQUESTS_PREFIX)
# Cancel and delete list a request's prefix and delete what is under it; they never read or write files.
REQUEST_OUTPUTS_REMOVE = Objects(
    resources.EXHAUST_BUCKET.name, resources.REQUESTS_PREFIX, read=False, list=True, delete=True
)

# The scheduled standard-dataset producer (infra/scheduler.py): reads the lake's telemetry, overwrites the daily
# files of its three datasets and nothing else (no read-back, no listing, no other dataset's prefix).
PRODUCER_GRANTS: dict[str, tuple[Grant, ...]] = {
    "producer": (
        LAKE_READ,
        Objects(
            resources.EXHAUST_BUCKET.name,
            f"{resources.STANDARD_DATASETS_PREFIX}summary-rollup/",
            read=False,
            write=True,
        ),
        Objects(
            resources.EXHAUST_BUCKET.name,
            f"{resources.STANDARD_DATASETS_PREFIX}summary-channel-exhaust/",
            read=False,
            write=True,
        ),
        Objects(resources.PUBLIC_BUCKET.name, "public-summary-rollup/", read=False, write=True),
    ),
}

# The scheduled indexer (infra/scheduler.py): reads the lake, rewrites only its derived tables.
INDEXER_GRANTS: dict[str, tuple[Grant, ...]] = {"indexer": (LAKE_READ, WriteDerivedTables())}

# Function folder (Route.function) -> what it needs. Names accept both spellings the team uses (- and _).
API_GRANTS: dict[str, tuple[Grant, ...]] = {
    "health": (),
    "openapi": (),
    "docs": (),
    "export_ui": (),
    "authorizer": (CREDENTIALS_READ,),
    "submit": (
        Table(resources.REQUESTS_TABLE.name, write=True),
        Table(resources.IDEMPOTENCY_TABLE.name, write=True),
        DATASETS_READ,
        SendToQueue(),
        EncryptSecrets(),
        ReadCourseDirectory(),
    ),
    "read": (REQUESTS_READ, DATASETS_READ, REQUEST_OUTPUTS_READ, ReadCourseDirectory()),
    "list": (REQUESTS_READ, DATASETS_READ, REQUEST_OUTPUTS_READ, ReadCourseDirectory()),
    "search": (REQUESTS_READ, DATASETS_READ, REQUEST_OUTPUTS_READ, ReadCourseDirectory()),
    # Cancel also stops the execution, publishes the event and reads the callback secret: granted by the pipeline
    # construct, which owns the state machine, the bus and the secret (infra/pipeline.py allow_lifecycle).
    "cancel": (
        Table(resources.REQUESTS_TABLE.name, write=True),
        DATASETS_READ,
        REQUEST_OUTPUTS_REMOVE,
        ReadCourseDirectory(),
    ),
    "delete": (
        Table(resources.REQUESTS_TABLE.name, write=True),
        DATASETS_READ,
        REQUEST_OUTPUTS_REMOVE,
        ReadCourseDirectory(),
    ),
    "dataset_get": (
        DATASETS_READ,
        Objects(resources.EXHAUST_BUCKET.name, resources.STANDARD_DATASETS_PREFIX, list=True),
        ReadLakeMarker(),
    ),
    # Answers CloudFront URLs: lists which daily files exist, never reads or signs them.
    "public_dataset_get": (DATASETS_READ, Objects(resources.PUBLIC_BUCKET.name, "", read=False, list=True)),
    "dataset_add": (Table(resources.DATASETS_TABLE.name, write=True),),
    "dataset_list": (DATASETS_READ, ReadLakeMarker()),
    "legacy": (
        CREDENTIALS_READ,
        # Failed license keys are counted (exhaust.auth.lockout): its counters by key, nothing else of the table.
        Table(resources.IDEMPOTENCY_TABLE.name, write=True, lookup_only=True),
        DATASETS_READ,
        LAKE_READ,
        Objects(resources.EXHAUST_BUCKET.name, LEGACY_PREFIX, write=True),
    ),
    "export": (LAKE_READ, Objects(resources.EXHAUST_BUCKET.name, EXPORTS_PREFIX, write=True)),
    # The course listing reads collections, batches and the enrolments table's footers.
    "courses": (LAKE_READ,),
}

# The pipeline's functions (infra/pipeline.py, infra/builder.py): their storage access. What they need of the
# resources the pipeline itself creates (the state machine, the event bus, the callback secret) is granted there.
REQUESTS_WRITE = Table(resources.REQUESTS_TABLE.name, write=True)
# delete: a step removes the file it wrote when the request was cancelled meanwhile (exhaust.pipeline.steps).
REQUEST_OUTPUTS_WRITE = Objects(
    resources.EXHAUST_BUCKET.name, resources.REQUESTS_PREFIX, read=False, write=True, delete=True
)
PIPELINE_GRANTS: dict[str, tuple[Grant, ...]] = {
    "dispatcher": (REQUESTS_WRITE, SendToQueue()),
    "sweeper": (REQUESTS_WRITE, SendToQueue()),
    # Plan writes the batch list the map's ItemReader reads; Finalize reads the map's results (ResultWriter).
    "plan": (
        REQUESTS_WRITE,
        DATASETS_READ,
        LAKE_READ,
        Objects(resources.EXHAUST_BUCKET.name, PLANS_PREFIX, read=False, write=True),
    ),
    # BuildBatch: the only function that decrypts a partner's encryptionKey.
    "builder": (REQUESTS_WRITE, LAKE_READ, REQUEST_OUTPUTS_WRITE, DecryptSecrets()),
    "finalize": (
        REQUESTS_WRITE,
        REQUEST_OUTPUTS_WRITE,
        Objects(resources.EXHAUST_BUCKET.name, f"{MAP_RESULTS_PREFIX}/"),
    ),
    "mark_failed": (REQUESTS_WRITE, SendToQueue()),
    # Reads the request a callback message names and takes the delivered callback out of its outbox: by key only.
    "callbacks": (Table(resources.REQUESTS_TABLE.name, write=True, lookup_only=True),),
}


def grants_for(function: str, table: Mapping[str, tuple[Grant, ...]] = API_GRANTS) -> tuple[Grant, ...] | None:
    """The grants of a function folder; None when the table does not know it."""
    return table.get(function)


_TABLE_READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"]
_TABLE_WRITE = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]
# DynamoDB tables use the customer managed key on the caller's behalf (mirrors CDK's grant*Data, spelled out).
_KEY_FOR_TABLE_READ = ["kms:Decrypt", "kms:DescribeKey"]
_KEY_FOR_TABLE_WRITE = [
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
]


def statements(grant: Grant, storage: Storage, scope: aws_iam.IRole) -> list[aws_iam.PolicyStatement]:
    """The exact statements of one grant (acknowledging, on `scope`, the prefix wildcard an Objects grant needs)."""
    if isinstance(grant, Table):
        table = storage.tables[grant.name]
        spec = next(spec for spec in resources.TABLES if spec.name == grant.name)
        indexes = () if grant.lookup_only else spec.indexes
        arns = [table.table_arn, *(f"{table.table_arn}/index/{index.name}" for index in indexes)]
        actions = (["dynamodb:GetItem"] if grant.lookup_only else _TABLE_READ) + (_TABLE_WRITE if grant.write else [])
        key_actions = _KEY_FOR_TABLE_READ + (_KEY_FOR_TABLE_WRITE if grant.write else [])
        return [
            aws_iam.PolicyStatement(actions=actions, resources=arns),
            aws_iam.PolicyStatement(actions=key_actions, resources=[storage.key.key_arn]),
        ]
    if isinstance(grant, Objects):
        bucket = storage.buckets[grant.bucket]
        prefix = storage.lake_prefix if grant.prefix is None else grant.prefix
        result = []
        if grant.list:
            listing = aws_iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
            if prefix:
                listing.add_condition("StringLike", {"s3:prefix": [f"{prefix}*"]})
            result.append(listing)
        object_actions = (
            (["s3:GetObject"] if grant.read else [])
            + (["s3:PutObject", "s3:AbortMultipartUpload"] if grant.write else [])
            + (["s3:DeleteObject"] if grant.delete else [])
        )
        if object_actions:
            objects = bucket.arn_for_objects(f"{prefix}*")
            result.append(aws_iam.PolicyStatement(actions=object_actions, resources=[objects]))
            acknowledge(
                scope,
                "AwsSolutions-IAM5",
                f"Object access is limited to the '{prefix}' prefix of the {grant.bucket} bucket: object keys "
                "are generated per request/day, so they can only be named by prefix.",
                finding=iam5_resource(scope, objects),
            )
        return result
    if isinstance(grant, SendToQueue):
        return [aws_iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[storage.queue.queue_arn])]
    if isinstance(grant, WriteDerivedTables):
        lake = storage.lake_bucket
        # An index writes each run's parts and the pointer naming them inside the table's folder
        # (exhaust.lake.index_parts).
        folders = (*resources.DERIVED_LAKE_TABLES, resources.LAKE_DIRECTORY_FOLDER)
        tables = [lake.arn_for_objects(f"{storage.lake_prefix}{name}/*") for name in folders]
        for objects in tables:
            acknowledge(
                scope,
                "AwsSolutions-IAM5",
                "The indexer writes one derived table's files under its own folder of the lake (each index run's "
                "part-*.parquet in a folder of its own, and the pointer naming them), so they can only be named by "
                "prefix.",
                finding=iam5_resource(scope, objects),
            )
        actions = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
        return [aws_iam.PolicyStatement(actions=actions, resources=tables)]
    if isinstance(grant, ReadLakeMarker):
        marker = storage.lake_bucket.arn_for_objects(f"{storage.lake_prefix}{MARKER_NAME}")
        return [aws_iam.PolicyStatement(actions=["s3:GetObject"], resources=[marker])]
    if isinstance(grant, ReadCourseDirectory):
        folder = f"{storage.lake_prefix}{resources.LAKE_DIRECTORY_FOLDER}/"
        listing = aws_iam.PolicyStatement(actions=["s3:ListBucket"], resources=[storage.lake_bucket.bucket_arn])
        listing.add_condition("StringLike", {"s3:prefix": [f"{folder}*"]})
        documents = storage.lake_bucket.arn_for_objects(f"{folder}*")
        acknowledge(
            scope,
            "AwsSolutions-IAM5",
            "The course directory is one document per channel under its own folder of the lake, named by channel.",
            finding=iam5_resource(scope, documents),
        )
        return [listing, aws_iam.PolicyStatement(actions=["s3:GetObject"], resources=[documents])]
    if isinstance(grant, EncryptSecrets):
        return [aws_iam.PolicyStatement(actions=["kms:Encrypt"], resources=[storage.secrets_key.key_arn])]
    return [aws_iam.PolicyStatement(actions=["kms:Decrypt"], resources=[storage.secrets_key.key_arn])]


# What an SSE-KMS object needs of its key: reading it, Decrypt; writing it, GenerateDataKey (and Decrypt, for the
# parts of a multipart upload) (Amazon S3 User Guide, "Using server-side encryption with AWS KMS keys").
_LAKE_KEY_READ = ["kms:Decrypt"]
_LAKE_KEY_WRITE = ["kms:Decrypt", "kms:GenerateDataKey"]


def lake_key_statements(grant: Grant, storage: Storage) -> list[aws_iam.PolicyStatement]:
    """kms actions on the lake's own key (setting lake_kms_key_arn) for a grant that reads or writes lake objects."""
    if not storage.lake_key_arn:
        return []
    if isinstance(grant, WriteDerivedTables):
        actions = _LAKE_KEY_WRITE
    elif isinstance(grant, ReadLakeMarker) or (
        isinstance(grant, Objects) and grant.bucket == resources.LAKE_BUCKET.name and grant.read
    ):
        actions = _LAKE_KEY_READ
    else:
        return []
    return [aws_iam.PolicyStatement(actions=actions, resources=[storage.lake_key_arn])]


def apply_grants(function: aws_lambda.Function, grants: Iterable[Grant], storage: Storage) -> None:
    role = function.role
    assert role is not None
    for grant in grants:
        for statement in [*statements(grant, storage, role), *lake_key_statements(grant, storage)]:
            role.add_to_principal_policy(statement)
