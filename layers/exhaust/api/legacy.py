"""The legacy dataset API (seed 000): a partner's data as a zip of per-day zips, with and without dates."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from exhaust.api.http import ApiRequest, RawResponse
from exhaust.api.operation import Outcome, Path, operation
from exhaust.api.outcomes import REDIRECT, TOO_LARGE, ZIP
from exhaust.api.parameters import DatasetId, Identifier
from exhaust.errors import BadRequest
from exhaust.identifiers import IDENTIFIER_RULE
from exhaust.legacy import rules
from exhaust.legacy.rules import LegacyRequestBody
from exhaust.legacy.service import LegacyService

API_ID = "ekstep.data_exhaust_dataset_service"


@lru_cache(maxsize=1)
def service() -> LegacyService:
    return LegacyService()


def body_of(request: ApiRequest) -> Any:
    """The body, parsed once (the answer's msgid reads the same parse); refused in the legacy API's terms."""
    rules.check_body_size(len(request.body))
    if not request.body.strip():
        return None
    try:
        return request.document()
    except BadRequest as refused:
        raise rules.unparsable(refused.message) from None


@operation(
    "POST /v1/datasets/{datasetId}/{resourceId}/{fromDate}/{toDate}",
    API_ID,
    "Legacy dataset API: a partner's data as a zip of per-day zips (license key in the body)",
    function="legacy",
    tag="legacy dataset API",
    statuses=(REDIRECT, Outcome(401), Outcome(403), TOO_LARGE),
    media_type=ZIP,
    body_read_as=LegacyRequestBody,
)
def download(
    dataset_id: DatasetId,
    resource_id: Annotated[Identifier, Path(IDENTIFIER_RULE, "resourceId")],
    request: ApiRequest,
    from_date: Annotated[Identifier | None, Path("First day, YYYY-MM-DD", "fromDate")] = None,
    to_date: Annotated[Identifier | None, Path("Last day, YYYY-MM-DD, before today", "toDate")] = None,
) -> RawResponse:
    return service().download(dataset_id, resource_id, from_date, to_date, body_of(request), source=request.source_ip)


download_yesterday = download.also_at(
    "/v1/datasets/{datasetId}/{resourceId}", "Legacy dataset API for yesterday (license key in the body)"
)
