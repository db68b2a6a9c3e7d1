"""Dataset registry routes: add (admin) and list."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from exhaust.api.http import ApiRequest, describe_validation_error
from exhaust.auth.checks import require_admin
from exhaust.datasets.registry import Dataset, DatasetRegistry
from exhaust.errors import BadRequest
from exhaust.readiness import read_marker
from exhaust.requests.models import iso_utc
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


# The reference system's dataset add names its fields differently (Data Exhaust Meta APIs): same meaning, other key.
REFERENCE_NAMES = {"dataset": "datasetId", "datasetType": "type", "exhaustType": "type"}
# The reference's type values ("on-demand exhaust", "Standard Exhaust", "Channel Exhaust"...) -> ours.
REFERENCE_TYPES = {
    "on-demand": "on-demand",
    "ondemand": "on-demand",
    "standard": "standard",
    "channel": "standard",
    "public": "public",
    "legacy": "legacy",
}


def reference_type(field: str, value: Any) -> Any:
    """`on-demand exhaust`, `On-demand Exhaust`, `standard-exhaust`... -> on-demand, standard, ...; else unchanged."""
    if not isinstance(value, str):
        return value
    word = value.strip().lower().replace("_", "-").removesuffix("exhaust").strip(" -").replace(" ", "-")
    if word in REFERENCE_TYPES:
        return REFERENCE_TYPES[word]
    accepted = ", ".join(sorted({*REFERENCE_TYPES.values()}))
    raise BadRequest(f"request.{field}: '{value}' is not a dataset type (one of {accepted}, with or without 'exhaust')")


def from_reference_names(body: dict[str, Any]) -> dict[str, Any]:
    """The body with the reference's field names (dataset, datasetType, exhaustType) renamed to ours.

    A field given under both names must say the same thing; a reference `supportedFormats` string becomes a list.
    """
    renamed = {name: value for name, value in body.items() if name not in REFERENCE_NAMES}
    for theirs, ours in REFERENCE_NAMES.items():
        if theirs not in body:
            continue
        value = reference_type(theirs, body[theirs]) if ours == "type" else body[theirs]
        if ours in renamed and renamed[ours] != value:
            raise BadRequest(f"request.{theirs}: says '{body[theirs]}' but request.{ours} says '{renamed[ours]}'")
        renamed[ours] = value
    if isinstance(renamed.get("supportedFormats"), str):
        renamed["supportedFormats"] = [renamed["supportedFormats"].strip().lower()]
    return renamed


def list_datasets(request: ApiRequest) -> dict[str, Any]:
    request.principal  # noqa: B018 - any authenticated caller may list the registry
    dataset_type = request.query_value("type")
    ready = readiness_answer()
    datasets = [dataset.model_dump(mode="json") | ready for dataset in DatasetRegistry().all_datasets(dataset_type)]
    return {"count": len(datasets), "datasets": datasets}


def readiness_answer() -> dict[str, str]:
    """`{"dataAvailableUntil": ...}` from the lake's completeness marker; empty when the lake has none.

    Every dataset is built from the one lake, so they share its instant (docs/datasets.md).
    """
    available = read_marker(get_settings().lake_uri)
    return {} if available is None else {"dataAvailableUntil": iso_utc(available)}
