"""HTTP glue of the dataset registry routes: add (admin) and list."""

from __future__ import annotations

from typing import Any

from exhaust.api.http import ApiRequest
from exhaust.auth.checks import require_admin
from exhaust.auth.scope import has_dataset_role
from exhaust.datasets.registry import DatasetAddBody, DatasetRegistry
from exhaust.readiness import readiness_answer
from exhaust.settings import get_settings
from exhaust.validation import parse


def add(request: ApiRequest) -> dict[str, Any]:
    require_admin(request.principal)
    dataset = parse(DatasetAddBody, request.json_body()).request
    DatasetRegistry().put(dataset)
    return {"message": f"dataset {dataset.datasetId} registered", "dataset": dataset.model_dump(mode="json")}


def list_datasets(request: ApiRequest) -> dict[str, Any]:
    principal = request.principal  # any authenticated caller may list the registry
    dataset_type = request.query_value("type")
    ready = readiness_answer(get_settings().lake_uri)
    datasets = [
        dataset.model_dump(mode="json") | ready | {"requestable": has_dataset_role(principal, dataset.authorizedRoles)}
        for dataset in DatasetRegistry().all_datasets(dataset_type)
    ]
    return {"count": len(datasets), "datasets": datasets}
