"""The two dataset get operations (exhaust.standard.lookup): a standard dataset's and a public dataset's files."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

from exhaust.api.operation import Header, Path, Query, operation
from exhaust.api.outcomes import NOT_FOUND
from exhaust.api.parameters import Channel, Identifier
from exhaust.auth.checks import CHANNEL_HEADER
from exhaust.identifiers import IDENTIFIER_RULE
from exhaust.principal import Principal
from exhaust.standard import lookup
from exhaust.standard.dates import DAY_PATTERN, PRESETS, DateQuery
from exhaust.standard.files import DatasetFiles

DATASETS = "standard and public datasets"
TELEMETRY_API_ID = "org.ekstep.analytics.telemetry"
# The days are checked by exhaust.standard.dates (its messages name the parameter); these schemas say its rules.
DAY_SCHEMA: dict[str, Any] = {"type": "string", "format": "date", "pattern": DAY_PATTERN.pattern}
Day = Annotated[str | None, WithJsonSchema(DAY_SCHEMA)]
DatasetId = Annotated[Identifier, Path(IDENTIFIER_RULE, "datasetId")]
From = Annotated[Day, Query("YYYY-MM-DD, first day; default yesterday (UTC)", "from")]
Since = Annotated[Day, Query("Alias of from")]
To = Annotated[Day, Query("YYYY-MM-DD, last day (inclusive); default today (UTC)")]


@operation(
    "GET",
    "/api/data/v3/dataset/get/{datasetId}",
    function="dataset_get",
    api_id=TELEMETRY_API_ID,
    auth="token",
    summary="Presigned links to a channel's daily files of a standard dataset",
    tag=DATASETS,
    statuses=(NOT_FOUND,),
)
def standard_get(
    principal: Principal,
    channel: Channel,
    dataset_id: DatasetId,
    from_: From = None,
    since: Since = None,
    to: To = None,
) -> DatasetFiles:
    return lookup.standard_get(principal, channel, dataset_id, DateQuery(from_=from_, since=since, to=to))


@operation(
    "GET",
    "/api/data/v3/public/dataset/get/{datasetId}",
    function="public_dataset_get",
    api_id=TELEMETRY_API_ID,
    auth="none",
    summary="CDN links to the daily files of a public dataset (no authentication)",
    tag=DATASETS,
    statuses=(NOT_FOUND,),
)
def public_get(
    dataset_id: DatasetId,
    from_: From = None,
    since: Since = None,
    to: To = None,
    date: Annotated[Day, Query("YYYY-MM-DD: exactly one day")] = None,
    date_range: Annotated[
        str | None, WithJsonSchema({"type": "string", "enum": list(PRESETS)}), Query("A preset range of days")
    ] = None,
    channel: Annotated[
        str | None, Header("The channel whose files to list (datasets with files per channel)", CHANNEL_HEADER)
    ] = None,
) -> DatasetFiles:
    dates = DateQuery(from_=from_, since=since, to=to, date=date, date_range=date_range)
    return lookup.public_get(channel, dataset_id, dates)
