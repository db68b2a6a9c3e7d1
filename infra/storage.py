"""Storage: DynamoDB tables (from the shared specs), S3 buckets, the request queue and DLQ, the KMS key."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, aws_dynamodb, aws_kms, aws_s3, aws_sqs
from constructs import Construct
from exhaust import resources
from exhaust.resources import TableSpec, key_type

from infra.config import StackSettings

_ATTRIBUTE_TYPES = {"S": aws_dynamodb.AttributeType.STRING, "N": aws_dynamodb.AttributeType.NUMBER}


def _attribute(name: str) -> aws_dynamodb.Attribute:
    return aws_dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[key_type(name)])


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings) -> None:
        super().__init__(scope, construct_id)
        # The data (tables, buckets, their keys) outlives the stack unless the settings say otherwise (`retain`).
        self.removal = RemovalPolicy.RETAIN if settings.retain else RemovalPolicy.DESTROY
        # Buckets the stack deletes are emptied first (CDK's auto-delete custom resource), or the delete would fail.
        self._auto_delete = not settings.retain
        self.key = aws_kms.Key(
            self,
            "DataKey",
            enable_key_rotation=True,
            description="Encrypts the service's tables at rest",
            removal_policy=self.removal,
        )
        # Partners' encryption keys get a key of their own, so that reading the requests table (every request
        # function may) does not also allow decrypting them: only the builder holds kms:Decrypt on this one.
        self.secrets_key = aws_kms.Key(
            self,
            "SecretsKey",
            enable_key_rotation=True,
            description="Encrypts partners' encryptionKey values stored with their requests",
            removal_policy=self.removal,
        )
        self.tables = {spec.name: self._table(spec) for spec in resources.TABLES}

        self.access_logs = aws_s3.Bucket(
            self,
            "AccessLogsBucket",
            block_public_access=aws_s3.BlockPublicAccess.BLOCK_ALL,
            encryption=aws_s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            lifecycle_rules=[aws_s3.LifecycleRule(expiration=Duration.days(90))],
            # CloudFront standard logging writes with an ACL grant, which needs ACLs enabled.
            object_ownership=aws_s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=self.removal,
            auto_delete_objects=self._auto_delete,
        )
        self.exhaust_bucket = self._bucket(
            "ExhaustBucket",
            lifecycle_rules=[
                aws_s3.LifecycleRule(
                    id="expire-request-outputs",
                    prefix=resources.REQUESTS_PREFIX,
                    expiration=Duration.days(settings.output_retention_days),
                ),
                # Big legacy and export answers only live for their presigned link (minutes): a day is plenty.
                aws_s3.LifecycleRule(
                    id="expire-legacy-downloads", prefix=resources.LEGACY_PREFIX, expiration=Duration.days(1)
                ),
                aws_s3.LifecycleRule(id="expire-exports", prefix=resources.EXPORTS_PREFIX, expiration=Duration.days(1)),
                # Plans and map results matter only while their execution runs (12 hours at most).
                aws_s3.LifecycleRule(
                    id="expire-pipeline-files",
                    prefix=resources.PIPELINE_PREFIX,
                    expiration=Duration.days(resources.PIPELINE_RETENTION_DAYS),
                ),
                aws_s3.LifecycleRule(id="abort-multipart", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
        )
        # The key of an existing SSE-KMS lake (its ARN), granted to the lake's readers (infra/grants.py).
        self.lake_key_arn = settings.lake_kms_key_arn
        if settings.lake_bucket_name:
            self.lake_bucket = aws_s3.Bucket.from_bucket_name(self, "LakeBucket", settings.lake_bucket_name)
        else:
            self.lake_bucket = self._bucket("LakeBucket")
        self.public_bucket = self._bucket("PublicBucket")
        # By BucketSpec.name, for the declarative grants (infra/grants.py).
        self.buckets: dict[str, aws_s3.IBucket] = {
            resources.EXHAUST_BUCKET.name: self.exhaust_bucket,
            resources.LAKE_BUCKET.name: self.lake_bucket,
            resources.PUBLIC_BUCKET.name: self.public_bucket,
        }
        self.lake_prefix = settings.lake_prefix

        queue_spec = resources.EXHAUST_QUEUE
        self.dead_letter_queue = aws_sqs.Queue(
            self,
            "RequestsDeadLetterQueue",
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = aws_sqs.Queue(
            self,
            "RequestsQueue",
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(queue_spec.visibility_timeout_seconds),
            dead_letter_queue=aws_sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=queue_spec.max_receive_count
            ),
        )

    def _table(self, spec: TableSpec) -> aws_dynamodb.Table:
        table = aws_dynamodb.Table(
            self,
            f"{spec.name.title()}Table",
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=aws_dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=aws_dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            encryption=aws_dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            removal_policy=self.removal,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=aws_dynamodb.ProjectionType(index.projection_type),
                non_key_attributes=list(index.projected) or None,
            )
        return table

    def _bucket(self, construct_id: str, **kwargs: object) -> aws_s3.Bucket:
        return aws_s3.Bucket(
            self,
            construct_id,
            block_public_access=aws_s3.BlockPublicAccess.BLOCK_ALL,
            encryption=aws_s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{construct_id}/",
            removal_policy=self.removal,
            auto_delete_objects=self._auto_delete,
            **kwargs,  # type: ignore[arg-type]
        )

    def environment(self) -> dict[str, str]:
        """The environment variables naming these resources, as every function expects them."""
        env = {spec.env_var: self.tables[spec.name].table_name for spec in resources.TABLES}
        env[resources.EXHAUST_BUCKET.env_var] = self.exhaust_bucket.bucket_name
        env[resources.LAKE_BUCKET.env_var] = self.lake_bucket.bucket_name
        env[resources.PUBLIC_BUCKET.env_var] = self.public_bucket.bucket_name
        env[resources.EXHAUST_QUEUE.env_var] = self.queue.queue_url
        env[resources.EXHAUST_QUEUE.dead_letter_env_var] = self.dead_letter_queue.queue_url
        env["EXHAUST_LAKE_PREFIX"] = self.lake_prefix
        env[resources.SECRETS_KEY_ENV_VAR] = self.secrets_key.key_arn
        return env
