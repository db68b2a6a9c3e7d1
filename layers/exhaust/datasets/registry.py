"""Dataset registrations: built-in defaults, overridden or extended by the registry table.

The service's own datasets are defined here so that a fresh stack (or local mode) knows them without a seeding
step; `POST /api/dataset/v1/add` stores new datasets or new versions of these in DynamoDB, which then win.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from exhaust import aws
from exhaust.datasets.ids import DEFAULT_MAX_BATCHES_PER_REQUEST, ORG_PII_EXHAUST
from exhaust.datasets.reference_names import from_reference_names
from exhaust.principal import DEFAULT_DATASET_ROLES
from exhaust.settings import get_settings
from exhaust.validation import Body, RequestParams

DatasetType = Literal["on-demand", "standard", "public", "legacy"]


class DatasetLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxBatchesPerRequest: int = Field(default=DEFAULT_MAX_BATCHES_PER_REQUEST, ge=1, le=10_000)
    maxDateRangeDays: int = Field(default=10, ge=1, le=366)
    retentionDays: int = Field(default=30, ge=1, le=3650)


DATASET_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"


class Dataset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasetId: str = Field(pattern=DATASET_ID_PATTERN)
    datasetSubId: str = ""
    type: DatasetType = "on-demand"
    version: str = "v1"
    visibility: Literal["private", "public"] = "private"
    authorizedRoles: list[str] = Field(default_factory=lambda: list(DEFAULT_DATASET_ROLES))
    validationJson: dict[str, Any] | None = None
    encryptionKeyRequired: bool = False
    supportedFormats: list[str] = Field(default_factory=lambda: ["csv"])
    perChannel: bool = True
    limits: DatasetLimits = Field(default_factory=DatasetLimits)
    description: str = ""
    # The reference system's job configuration of the dataset (its `datasetConfig`): stored and listed as given.
    datasetConfig: dict[str, Any] | None = None
    sampleRequest: dict[str, Any] | None = None
    sampleResponse: dict[str, Any] | None = None


class DatasetAddBody(Body):
    """The body of POST /api/dataset/v1/add; the reference system's field names and type values are taken too."""

    params: RequestParams | None = None
    request: Dataset

    @model_validator(mode="before")
    @classmethod
    def _our_names(cls, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        if not isinstance(body.get("request"), dict):
            raise ValueError("request: must be an object describing the dataset (datasetId, type, ...)")
        return {**body, "request": from_reference_names(body["request"])}


BUILT_IN: tuple[Dataset, ...] = (
    # Seed 002 makes encryptionKey mandatory for the three on-demand datasets: every output is an AES-256 zip.
    Dataset(
        datasetId="progress-exhaust",
        encryptionKeyRequired=True,
        description="Course progress of each enrolled user in a batch (seed 002 appendix I)",
    ),
    Dataset(
        datasetId="userinfo-exhaust",
        encryptionKeyRequired=True,
        description="Personal information of users who consented to share it (seed 002 appendix II)",
    ),
    Dataset(
        datasetId="response-exhaust",
        encryptionKeyRequired=True,
        description="Every question response of every assessment attempt (seed 002 appendix III)",
    ),
    Dataset(
        datasetId=ORG_PII_EXHAUST,
        authorizedRoles=["ORG_ADMIN"],
        encryptionKeyRequired=True,
        description="Users who gave the requesting org an ACTIVE org-level consent (seed 002 appendix IV)",
    ),
    Dataset(
        datasetId="summary-rollup",
        type="standard",
        limits=DatasetLimits(maxDateRangeDays=10, retentionDays=90),
        description="Daily usage per channel and content: sessions, users, time spent, plays",
    ),
    Dataset(
        datasetId="summary-channel-exhaust",
        type="standard",
        limits=DatasetLimits(maxDateRangeDays=10, retentionDays=90),
        description="Daily usage summary of a channel, one row per session and user: time spent, plays, events",
    ),
    Dataset(
        datasetId="public-summary-rollup",
        type="public",
        visibility="public",
        authorizedRoles=[],
        limits=DatasetLimits(maxDateRangeDays=30, retentionDays=90),
        description="Daily aggregate usage per channel, small counts suppressed, no user ids",
    ),
    Dataset(
        datasetId="raw-telemetry",
        type="legacy",
        authorizedRoles=[],
        perChannel=False,
        supportedFormats=["json"],
        limits=DatasetLimits(maxDateRangeDays=31, retentionDays=365),
        description="Raw telemetry events of a partner, one zip per day (legacy dataset API)",
    ),
)


class DatasetRegistry:
    def __init__(self, table_name: str | None = None):
        self.table = aws.resource("dynamodb").Table(table_name or get_settings().datasets_table)

    def get(self, dataset_id: str) -> Dataset | None:
        if not re.match(DATASET_ID_PATTERN, dataset_id):
            return None  # no such dataset can exist; and DynamoDB would refuse an over-long key with an error
        item = self.table.get_item(Key={"datasetId": dataset_id}).get("Item")
        if item:
            return Dataset.model_validate_json(str(item["document"]))
        return next((dataset for dataset in BUILT_IN if dataset.datasetId == dataset_id), None)

    def all_datasets(self, dataset_type: str | None = None) -> list[Dataset]:
        found = {dataset.datasetId: dataset for dataset in BUILT_IN}
        arguments: dict[str, Any] = {}
        while True:
            page = self.table.scan(**arguments)
            for item in page.get("Items", []):
                dataset = Dataset.model_validate_json(str(item["document"]))
                found[dataset.datasetId] = dataset
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        datasets = sorted(found.values(), key=lambda dataset: dataset.datasetId)
        return [dataset for dataset in datasets if dataset_type is None or dataset.type == dataset_type]

    def ids(self, dataset_type: str | None = None) -> list[str]:
        return [dataset.datasetId for dataset in self.all_datasets(dataset_type)]

    def put(self, dataset: Dataset) -> Dataset:
        # The document is stored as JSON text: JSON schemas may hold floats and nulls DynamoDB maps mangle.
        self.table.put_item(
            Item={"datasetId": dataset.datasetId, "document": json.dumps(dataset.model_dump(mode="json"))}
        )
        return dataset
