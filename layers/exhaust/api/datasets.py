"""The dataset registry operations: add (admin) and list."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from pydantic import BaseModel, Field

from exhaust.api.operation import Query, operation
from exhaust.auth.checks import require_admin
from exhaust.auth.scope import has_dataset_role
from exhaust.datasets.registry import Dataset, DatasetAddBody, DatasetRegistry
from exhaust.principal import Principal
from exhaust.readiness import readiness_answer
from exhaust.settings import get_settings

# Every field of a registration is answered, those it left out as null, as the reference API does.
registry_operation = partial(operation, auth="token", tag="dataset registry", nulls="as set")


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


class DatasetAdded(BaseModel):
    message: str
    dataset: Dataset


@registry_operation(
    "POST /api/dataset/v1/add", "ekstep.analytics.dataset.add", "Register a dataset", function="dataset_add"
)
def add(principal: Principal, body: DatasetAddBody) -> DatasetAdded:
    require_admin(principal)
    dataset = body.request
    DatasetRegistry().put(dataset)
    answered = Dataset.model_validate(dataset.model_dump())  # every field set: those left out answered as null
    return DatasetAdded(message=f"dataset {dataset.datasetId} registered", dataset=answered)


@registry_operation(
    "GET /api/dataset/v1/list", "ekstep.analytics.dataset.list", "List datasets", function="dataset_list"
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
    # dataAvailableUntil only when the lake says it.
    datasets = [
        ListedDataset.model_validate(
            dataset.model_dump() | ready | {"requestable": has_dataset_role(principal, dataset.authorizedRoles)}
        )
        for dataset in DatasetRegistry().all_datasets(dataset_type)
    ]
    return DatasetList(count=len(datasets), datasets=datasets)
