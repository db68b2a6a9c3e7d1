"""Glue between API events and the legacy service, so the handler is one line."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from exhaust.api.http import ApiRequest, RawResponse
from exhaust.errors import BadRequest
from exhaust.legacy import rules
from exhaust.legacy.service import LegacyService

API_ID = "ekstep.data_exhaust_dataset_service"


@lru_cache(maxsize=1)
def service() -> LegacyService:
    return LegacyService()


def download(request: ApiRequest) -> RawResponse:
    params = request.path_params
    return service().download(
        params["datasetId"],
        params["resourceId"],
        params.get("fromDate"),
        params.get("toDate"),
        body_of(request),
        source=request.source_ip,
    )


def body_of(request: ApiRequest) -> Any:
    """The body, parsed once (the answer's msgid reads the same parse); refused in the legacy API's terms."""
    rules.check_body_size(len(request.body))
    if not request.body.strip():
        return None
    try:
        return request.document()
    except BadRequest as refused:
        raise rules.unparsable(refused.message) from None
