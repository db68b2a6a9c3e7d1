"""The reference system's dataset add body (Data Exhaust Meta APIs) in our field names and type values."""

from __future__ import annotations

from typing import Any

from exhaust.errors import BadRequest

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
