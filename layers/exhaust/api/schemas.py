"""The answers of the API that no domain model is: the envelope, the pages of list and search, and a few results.

The request bodies are the domain's own validating models (exhaust.validation); these describe answers, and the
contract test (tests/contract.py) checks every answer the test suites receive against the document built from them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from exhaust.datasets.registry import Dataset
from exhaust.requests.models import JobStatusResponse


class JobList(BaseModel):
    count: int = Field(description="Jobs in this answer (list) or all matches (search; see countIsLowerBound)")
    jobs: list[JobStatusResponse]
    nextCursor: str | None = Field(
        default=None, description="The next page: pass as ?cursor= (list) or request.cursor (search)"
    )
    countIsLowerBound: bool | None = Field(
        default=None, description="search: true when there are more matches than it counts (count is at least)"
    )


class ListedDataset(Dataset):
    dataAvailableUntil: str | None = Field(
        default=None,
        description="ISO 8601 UTC instant up to which the lake data the dataset is built from is complete",
        examples=["2026-12-01T00:00:00Z"],
    )
    requestable: bool = Field(
        description="Whether the caller's roles are among authorizedRoles: it may request (or get) this dataset"
    )


class DatasetList(BaseModel):
    count: int
    datasets: list[ListedDataset]


class ListedBatch(BaseModel):
    batchId: str
    name: str
    startDate: str | None = Field(default=None, description="YYYY-MM-DD")
    endDate: str | None = Field(default=None, description="YYYY-MM-DD; none for a batch without an end")
    enrolments: int = Field(description="Users enrolled in the batch")


class ListedCourse(BaseModel):
    courseId: str
    name: str
    status: str
    requiresConsent: bool = Field(description="userinfo-exhaust holds only the users who consented to share")
    batches: list[ListedBatch]


class CourseList(BaseModel):
    count: int = Field(description="Courses matching q within the caller's scope (all pages)")
    scope: str = Field(description="Which courses the caller may list, in words")
    courses: list[ListedCourse]
    nextCursor: str | None = Field(default=None, description="The next page: pass as ?cursor=")


class Health(BaseModel):
    healthy: bool
    version: str


class DatasetAdded(BaseModel):
    message: str
    dataset: Dataset


class ResponseParams(BaseModel):
    resmsgid: str
    msgid: str | None = None
    status: Literal["successful", "failed"]
    err: str | None = None
    errmsg: str | None = None


def envelope_schema(result_ref: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": {"type": "string"},
        "ver": {"type": "string"},
        "ts": {"type": "string"},
        "params": {"$ref": "#/components/schemas/ResponseParams"},
        "responseCode": {"type": "string"},
    }
    if result_ref is not None:
        properties["result"] = result_ref
    return {"type": "object", "properties": properties, "required": ["id", "ver", "ts", "params", "responseCode"]}
