"""HTTP glue of the two dataset get routes (exhaust.standard.lookup), so each handler is one line."""

from __future__ import annotations

from exhaust.api.http import ApiRequest
from exhaust.auth.checks import CHANNEL_HEADER
from exhaust.standard import lookup
from exhaust.standard.dates import DateQuery
from exhaust.standard.files import DatasetFiles


def date_query(request: ApiRequest, *, presets_allowed: bool) -> DateQuery:
    return DateQuery(
        from_=request.query_value("from"),
        since=request.query_value("since"),
        to=request.query_value("to"),
        date=request.query_value("date") if presets_allowed else None,
        date_range=request.query_value("date_range") if presets_allowed else None,
    )


def standard_get(request: ApiRequest) -> DatasetFiles:
    return lookup.standard_get(
        request.principal,
        request.header(CHANNEL_HEADER),
        request.path_params["datasetId"],
        date_query(request, presets_allowed=False),
    )


def public_get(request: ApiRequest) -> DatasetFiles:
    return lookup.public_get(
        request.header(CHANNEL_HEADER),
        request.path_params["datasetId"],
        date_query(request, presets_allowed=True),
    )
