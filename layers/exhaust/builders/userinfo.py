"""userinfo-exhaust: enrolled users who consented to share their details with the requesting org (appendix II).

Only for collections that ask for consent. A user appears only when their latest consent for this collection
and the requesting org (the request's channel) is ACTIVE: revoked, absent or another org's consent leaves them
out, so `Consent Provided` is always `Yes` and `Consent Provided Date` is that ACTIVE consent's date. The
appendix's "(On user consent)" notes are not part of the labels. Rows are in User UUID order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.builders import common
from exhaust.builders.consents import latest_active
from exhaust.lake import values
from exhaust.lake.catalog import BatchInfo
from exhaust.lake.extracts import BATCH_USERS
from exhaust.lake.store import Lake

LABELS = (
    "Collection Id",
    "Collection Name",
    "Batch Id",
    "Batch Name",
    "User UUID",
    "User Name",
    "State",
    "District",
    "Org Name",
    "Mobile number",
    "Email ID",
    "Consent Provided",
    "Consent Provided Date",
    "Block Name",
    "Cluster",
    "Usertype",
    "Usersubtype",
    "School Id",
    "School Name",
)


def header() -> list[str]:
    return list(LABELS)


def active_consents(lake: Lake, collection_id: str, channel: str, user_ids: pa.Array) -> pa.Table:
    """user_id and consented_on of the users whose latest consent for (collection, channel) is ACTIVE."""
    return latest_active(lake, "consents", {"collection_id": collection_id, "consumer_id": channel}, user_ids)


def rows(
    lake: Lake, batch: BatchInfo, channel: str, chunk_rows: int = common.CHUNK_ROWS
) -> Iterator[tuple[pa.Buffer, int]]:
    collection = batch.collection

    def chunk_csv(users: pa.Table) -> tuple[pa.Buffer, int]:
        enrolled = values.single(users, "user_id")
        consents = active_consents(lake, collection.collection_id, channel, enrolled)
        positions = pc.index_in(enrolled, value_set=values.single(consents, "user_id"))
        consenting = pc.is_valid(positions)
        users = users.filter(consenting)
        length = users.num_rows
        if not length:
            return pa.py_buffer(b""), 0
        consented_on = consents["consented_on"].take(positions.filter(consenting))
        columns = [
            values.constant(collection.collection_id, length),
            values.constant(collection.name, length),
            values.constant(batch.batch_id, length),
            values.constant(batch.name, length),
            users["user_id"],
            users["name"],
            users["state"],
            users["district"],
            users["org_name"],
            users["phone"],
            users["email"],
            values.constant("Yes", length),
            values.format_dates(consented_on),
            users["block"],
            users["cluster"],
            users["user_type"],
            users["user_sub_type"],
            users["school_id"],
            users["school_name"],
        ]
        return common.encode_csv(columns), length

    # The batch_users extract has one row per enrolment, in the enrolments' order, with its profile: the chunks
    # come from it directly, without reading enrolments and aligning profiles.
    dictionary = [name for name in common.USER_COLUMNS if name in common.CATEGORICAL_USER_COLUMNS]
    yield from common.batch_chunks(
        lake, BATCH_USERS, batch.batch_id, common.USER_COLUMNS, chunk_csv, chunk_rows, dictionary=dictionary
    )
