"""The dataset registry operations: add (admin) and list."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from exhaust.api.operation import Query, operation
from exhaust.auth.checks import require_admin
from exhaust.datasets.registry import Dataset, DatasetAddBody, DatasetRegistry
from exhaust.principal import Principal
from exhaust.readiness import readiness_answer
from exhaust.settings import get_settings

REGISTRY = "dataset registry"


class ListedDataset(Dataset):
    dataAvailableUntil: str | None = Field(
        default=None,
        description="ISO 8601 UTC instant up to which the lake data the dataset is built from is complete",
        examples=["2026-12-01T00:00:00Z"],
    )


class DatasetList(BaseModel):
    count: int
    datasets: list[ListedDataset]


class DatasetAdded(BaseModel):
    message: str
    dataset: Dataset


@operation(
    "POST",
    "/api/dataset/v1/add",
    function="dataset_add",
    api_id="ekstep.analytics.dataset.add",
    auth="token",
    summary="Register a dataset",
    tag=REGISTRY,
    nulls="as set",
)
def add(principal: Principal, body: DatasetAddBody) -> DatasetAdded:
    require_admin(principal)
    dataset = body.request
    DatasetRegistry().put(dataset)
    # Every field of the registration is answered, those it left out as null.
    answered = Dataset.model_validate(dataset.model_dump())
    return DatasetAdded(message=f"dataset {dataset.datasetId} registered", dataset=answered)


@operation(
    "GET",
    "/api/dataset/v1/list",
    function="dataset_list",
    api_id="ekstep.analytics.dataset.list",
    auth="token",
    summary="List datasets",
    tag=REGISTRY,
    nulls="as set",
)
def list_datasets(
    principal: Principal,  # any authenticated caller may list the registry
    dataset_type: Annotated[
        str | None,
        Field(examples=["on-demand", "standard", "public", "legacy"]),
        Query("Only datasets of this type (any other value lists none)", "type"),
    ] = None,
) -> DatasetList:
    ready = readiness_answer(get_settings().lake_uri)
    # Every field of a registration, those it left out as null; dataAvailableUntil only when the lake says it.
    datasets = [
        ListedDataset.model_validate(dataset.model_dump() | ready)
        for dataset in DatasetRegistry().all_datasets(dataset_type)
    ]
    return DatasetList(count=len(datasets), datasets=datasets)
