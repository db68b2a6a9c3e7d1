"""The lake's course directory: per channel, its courses and their batches with `created_by` and `mentors`.

`exhaust lake index` (and the scheduled indexer) derives it from the collections and batches tables and writes one
small JSON document per channel, `{lake root}/_directory/{channel}.json`:

    {"channel": "ch", "courses": [{"courseId": "C1", "name": "...", "contentType": "Course", "status": "Live",
      "batches": [{"batchId": "B1", "name": "...", "createdBy": "u1", "mentors": ["u2"],
                   "startDate": "2026-08-01", "endDate": null}]}]}

API functions read it with boto3 (no pyarrow in a zip Lambda): a submit learns which course each batch belongs to,
and a COURSE_ADMIN's courses, with one GET. A channel without a document has no known course.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from exhaust import aws
from exhaust.auth.scope import Batch, Course
from exhaust.observability import logger
from exhaust.resources import LAKE_DIRECTORY_FOLDER as DIRECTORY_FOLDER


def document_key(channel: str) -> str:
    """The document's path below the lake root."""
    return f"{DIRECTORY_FOLDER}/{channel}.json"


def course_to_document(course: Course) -> dict[str, Any]:
    return {
        "courseId": course.course_id,
        "name": course.name,
        "contentType": course.content_type,
        "status": course.status,
        "batches": [
            {
                "batchId": batch.batch_id,
                "name": batch.name,
                "createdBy": batch.created_by,
                "mentors": list(batch.mentors),
                "startDate": batch.start_date,
                "endDate": batch.end_date,
            }
            for batch in course.batches
        ],
    }


def course_from_document(item: dict[str, Any]) -> Course:
    return Course(
        course_id=str(item["courseId"]),
        name=str(item.get("name") or ""),
        content_type=str(item.get("contentType") or ""),
        status=str(item.get("status") or ""),
        batches=tuple(
            Batch(
                batch_id=str(batch["batchId"]),
                name=str(batch.get("name") or ""),
                created_by=batch.get("createdBy"),
                mentors=tuple(str(mentor) for mentor in batch.get("mentors") or ()),
                start_date=batch.get("startDate"),
                end_date=batch.get("endDate"),
            )
            for batch in item.get("batches") or ()
        ),
    )


class LakeCourseDirectory:
    """The CourseDirectory port on the lake's documents (an `s3://bucket/prefix` lake, or a directory)."""

    def __init__(self, lake_uri: str | None = None):
        if lake_uri is None:
            from exhaust.settings import get_settings

            lake_uri = get_settings().lake_uri
        self.lake_uri = lake_uri

    def courses(self, channel: str) -> list[Course]:
        raw = self._read(document_key(channel))
        if raw is None:
            logger.info("no course directory for the channel", extra={"channel": channel, "lake": self.lake_uri})
            return []
        document = json.loads(raw)
        return [course_from_document(item) for item in document.get("courses") or ()]

    def _read(self, key: str) -> bytes | None:
        if not self.lake_uri.startswith("s3://"):
            try:
                return Path(os.path.abspath(self.lake_uri), key).read_bytes()
            except FileNotFoundError:
                return None
        bucket, _, prefix = self.lake_uri.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        try:
            answer = aws.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/{key}" if prefix else key)
        except aws.transport_errors()[0] as error:  # ClientError, without importing botocore at cold start
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(answer["Body"].read())
