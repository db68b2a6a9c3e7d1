"""Request and answer shapes of the API, as pydantic models used for the OpenAPI document.

The handlers validate by hand so that every message names the field and the rule; these models describe the same
contract for clients and are checked against real answers in the tests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from exhaust.datasets.registry import Dataset
from exhaust.requests.models import JobStatusResponse


class RequestParams(BaseModel):
    msgid: str | None = Field(default=None, description="Caller's message id, echoed in params.msgid")


class SearchCriteriaFilters(BaseModel):
    contentType: Literal["Course"]
    channel: str
    identifier: list[str] | None = Field(default=None, description="Collection ids")


class SearchCriteriaRequest(BaseModel):
    filters: SearchCriteriaFilters
    limit: int | None = Field(default=None, ge=1, le=49)


class SearchCriteria(BaseModel):
    request: SearchCriteriaRequest


class DatasetConfig(BaseModel):
    """Exactly one of batchId, batchFilter or searchFilter; other keys are kept and validated by the dataset."""

    batchId: str | None = None
    batchFilter: list[str] | None = Field(default=None, min_length=1)
    searchFilter: SearchCriteria | None = None


class SubmitRequestData(BaseModel):
    tag: str = Field(max_length=100)
    dataset: str = Field(examples=["progress-exhaust"])
    datasetConfig: DatasetConfig
    encryptionKey: str | None = Field(
        default=None, min_length=8, description="Password of the AES-256 zips; required for userinfo-exhaust"
    )
    callbackUrl: str | None = Field(default=None, description="https URL POSTed (HMAC signed) when the request ends")


class SubmitBody(BaseModel):
    params: RequestParams | None = None
    request: SubmitRequestData


class SearchFilters(BaseModel):
    dataset: str | None = None
    channel: str | None = None
    status: Literal["SUBMITTED", "PROCESSING", "SUCCESS", "FAILED", "CANCELLED"] | None = None
    requestedDate: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class SearchRequestData(BaseModel):
    filters: SearchFilters
    limit: int = Field(default=20, ge=1, le=1000)
    cursor: str | None = Field(default=None, description="A previous answer's nextCursor: the next page")


class SearchBody(BaseModel):
    params: RequestParams | None = None
    request: SearchRequestData


class DatasetAddBody(BaseModel):
    params: RequestParams | None = None
    request: Dataset


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


class DatasetList(BaseModel):
    count: int
    datasets: list[ListedDataset]


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
