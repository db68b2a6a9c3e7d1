"""Create the stack's resources in moto (a ThreadedMotoServer or mock_aws) from the shared specs."""

from __future__ import annotations

import json
from typing import Any

from exhaust import aws, resources
from exhaust.resources import LocalNames, QueueSpec, TableSpec, key_type
from exhaust.settings import RuntimeSettings

from exhaust_devkit.local.state import SecretsKey, adopt_secrets_key


def _create_table(dynamodb: Any, name: str, spec: TableSpec) -> None:
    attributes = {spec.partition_key}
    key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        attributes.add(spec.sort_key)
        key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    indexes = []
    for index in spec.indexes:
        index_keys = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        attributes.add(index.partition_key)
        if index.sort_key:
            attributes.add(index.sort_key)
            index_keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": index.projection_type}
        if index.projected:
            projection["NonKeyAttributes"] = list(index.projected)
        indexes.append({"IndexName": index.name, "KeySchema": index_keys, "Projection": projection})
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": key_schema,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": key_type(a)} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        arguments["GlobalSecondaryIndexes"] = indexes
    dynamodb.create_table(**arguments)
    if spec.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
        )


def _create_queue(names: LocalNames, queue: QueueSpec) -> tuple[str, str]:
    """The queue and its dead-letter queue; answers their URLs."""
    sqs = aws.client("sqs")
    fifo = {"FifoQueue": "true"} if queue.fifo else {}
    dlq_url = sqs.create_queue(QueueName=names.dead_letter_queue(queue), Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
    attributes = {
        "VisibilityTimeout": str(queue.visibility_timeout_seconds),
        "RedrivePolicy": json.dumps(redrive),
        **fifo,
    }
    return str(sqs.create_queue(QueueName=names.queue(queue), Attributes=attributes)["QueueUrl"]), str(dlq_url)


def create_resources(
    names: LocalNames | None = None, region: str = "us-east-1", secrets_key: SecretsKey | None = None
) -> RuntimeSettings:
    """Create every table, bucket, queue and key of the stack; answer the settings that name them.

    `secrets_key`: the key of an earlier run of local mode (its state), so what it encrypted still decrypts.
    """
    names = names or LocalNames()
    dynamodb = aws.client("dynamodb")
    for spec in resources.TABLES:
        _create_table(dynamodb, names.table(spec), spec)

    s3 = aws.client("s3")
    for bucket in resources.BUCKETS:
        if region == "us-east-1":
            s3.create_bucket(Bucket=names.bucket(bucket))
        else:
            s3.create_bucket(Bucket=names.bucket(bucket), CreateBucketConfiguration={"LocationConstraint": region})

    queue_url, dlq_url = _create_queue(names, resources.EXHAUST_QUEUE)
    callback_queue_url, _ = _create_queue(names, resources.CALLBACK_QUEUE)

    kms = aws.client("kms")
    key_id = kms.create_key(Description="exhaust local secrets")["KeyMetadata"]["KeyId"]
    if secrets_key is not None:
        key_id = adopt_secrets_key(key_id, secrets_key)
    kms.create_alias(AliasName=f"alias/{names.prefix}-{resources.SECRETS_KEY_ALIAS}", TargetKeyId=key_id)

    return RuntimeSettings(
        requests_table=names.table(resources.REQUESTS_TABLE),
        idempotency_table=names.table(resources.IDEMPOTENCY_TABLE),
        credentials_table=names.table(resources.CREDENTIALS_TABLE),
        datasets_table=names.table(resources.DATASETS_TABLE),
        exhaust_bucket=names.bucket(resources.EXHAUST_BUCKET),
        lake_bucket=names.bucket(resources.LAKE_BUCKET),
        public_bucket=names.bucket(resources.PUBLIC_BUCKET),
        queue_url=queue_url,
        callback_queue_url=callback_queue_url,
        secrets_key_id=key_id,
        dead_letter_queue_url=dlq_url,
    )
