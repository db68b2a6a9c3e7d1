"""Put a channel's course directory (exhaust.auth.directory) in the moto lake bucket, as `exhaust lake index` does."""

from __future__ import annotations

import json
from typing import Any

from exhaust import aws
from exhaust.auth.directory import course_to_document, document_key
from exhaust.auth.scope import Batch, Course


def put_course_directory(settings: Any, channel: str, batches_by_course: dict[str, list[str]]) -> None:
    courses = [
        Course(course_id, batches=tuple(Batch(batch_id) for batch_id in batch_ids))
        for course_id, batch_ids in sorted(batches_by_course.items())
    ]
    document = {"channel": channel, "courses": [course_to_document(course) for course in courses]}
    key = f"{settings.lake_prefix.strip('/')}/{document_key(channel)}"
    aws.client("s3").put_object(Bucket=settings.lake_bucket, Key=key, Body=json.dumps(document).encode())
