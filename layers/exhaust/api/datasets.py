"""HTTP glue of the dataset registry routes: add (admin) and list."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from exhaust.api.http import ApiRequest, describe_validation_error
from exhaust.auth.checks import require_admin
from exhaust.datasets.reference_names import from_reference_names
from exhaust.datasets.registry import Dataset, DatasetRegistry
from exhaust.errors import BadRequest
from exhaust.readiness import readiness_answer
from exhaust.settings import get_settings


def add(request: ApiRequest) -> dict[str, Any]:
    require_admin(request.principal)
    body = request.json_body().get("request")
    if not isinstance(body, dict):
        raise BadRequest("request: must be an object describing the dataset (datasetId, type, ...)")
    try:
        dataset = Dataset.model_validate(from_reference_names(body))
    except ValidationError as error:
        raise BadRequest(describe_validation_error(error)) from None
    DatasetRegistry().put(dataset)
    return {"message": f"dataset {dataset.datasetId} registered", "dataset": dataset.model_dump(mode="json")}


def list_datasets(request: ApiRequest) -> dict[str, Any]:
    request.principal  # noqa: B018 - any authenticated caller may list the registry
    dataset_type = request.query_value("type")
    ready = readiness_answer(get_settings().lake_uri)
    datasets = [dataset.model_dump(mode="json") | ready for dataset in DatasetRegistry().all_datasets(dataset_type)]
    return {"count": len(datasets), "datasets": datasets}
