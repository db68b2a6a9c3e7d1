"""The two dataset get operations (exhaust.standard.lookup): a standard dataset's and a public dataset's files."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from exhaust.api.operation import Header, Query, operation
from exhaust.api.outcomes import NOT_FOUND
from exhaust.api.parameters import Channel, DatasetId
from exhaust.auth.checks import CHANNEL_HEADER
from exhaust.principal import Principal
from exhaust.standard import lookup
from exhaust.standard.dates import DateQuery, DayBounds
from exhaust.standard.files import DatasetFiles

TELEMETRY_API_ID = "org.ekstep.analytics.telemetry"
dataset_operation = partial(
    operation, api_id=TELEMETRY_API_ID, tag="standard and public datasets", statuses=(NOT_FOUND,)
)


@dataset_operation(
    "GET /api/data/v3/dataset/get/{datasetId}",
    summary="Presigned links to a channel's daily files of a standard dataset",
    function="dataset_get",
    auth="token",
)
def standard_get(
    principal: Principal, channel: Channel, dataset_id: DatasetId, days: Annotated[DayBounds, Query("The days")]
) -> DatasetFiles:
    return lookup.standard_get(principal, channel, dataset_id, DateQuery(**dict(days)))


@dataset_operation(
    "GET /api/data/v3/public/dataset/get/{datasetId}",
    summary="CDN links to the daily files of a public dataset (no authentication)",
    function="public_dataset_get",
)
def public_get(
    dataset_id: DatasetId,
    days: Annotated[DateQuery, Query("The days")],
    channel: Annotated[
        str | None, Header("The channel whose files to list (datasets with files per channel)", CHANNEL_HEADER)
    ] = None,
) -> DatasetFiles:
    return lookup.public_get(channel, dataset_id, days)
