"""Glue between API events and the export service, so each handler is one line."""

from __future__ import annotations

from functools import lru_cache

from exhaust.api.http import ApiRequest, RawResponse
from exhaust.export.service import ExportService

API_ID = "api.export"


@lru_cache(maxsize=1)
def service() -> ExportService:
    return ExportService()


def export(request: ApiRequest) -> RawResponse:
    return service().export(
        request.path_params["format"],
        request.query_value("date_from"),
        request.query_value("date_to"),
        request.query_values("types"),
        request.query_values("units"),
    )
