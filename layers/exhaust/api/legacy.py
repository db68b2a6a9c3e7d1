"""Glue between API events and the legacy service, so the handler is one line."""

from __future__ import annotations

from functools import lru_cache

from exhaust.api.http import ApiRequest, RawResponse
from exhaust.legacy.service import LegacyService

API_ID = "ekstep.data_exhaust_dataset_service"


@lru_cache(maxsize=1)
def service() -> LegacyService:
    return LegacyService()


def download(request: ApiRequest) -> RawResponse:
    params = request.path_params
    return service().download(
        params["datasetId"], params["resourceId"], params.get("fromDate"), params.get("toDate"), request.body
    )
