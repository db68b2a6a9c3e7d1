"""userinfo-exhaust's rows (seed 002 appendix II): the one place of its rules, for the builder and the index.

A user appears only when their latest consent for the batch's collection and the requesting org (the consumer)
is ACTIVE: revoked, absent or another org's consent leaves them out, so `Consent Provided` is always `Yes` and
`Consent Provided Date` is that ACTIVE consent's date. Rows are in User UUID order, the order of batch_users.

The builder encodes these columns at a build (exhaust.builders.userinfo); `exhaust lake index` stores them as
finished lines per batch and consumer (exhaust.lake.materialized), which a build streams while they are fresh.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.lake import values
from exhaust.lake.catalog import BatchInfo
from exhaust.lake.consents import latest_active
from exhaust.lake.store import Lake

# What a chunk reads of batch_users: one row per enrolment, with its profile.
PROFILE_COLUMNS = (
    "user_id",
    "name",
    "state",
    "district",
    "block",
    "cluster",
    "school_id",
    "school_name",
    "org_name",
    "board",
    "user_type",
    "user_sub_type",
    "declared_org",
    "email",
    "phone",
)
# Few distinct values each: read dictionary-encoded, they decode several times faster.
DICTIONARY_COLUMNS = (
    "state",
    "district",
    "block",
    "cluster",
    "org_name",
    "board",
    "user_type",
    "user_sub_type",
    "declared_org",
)
USER_UUID = 4  # the position of the User UUID column


def active_consents(lake: Lake, collection_id: str, consumer_id: str, user_ids: pa.Array) -> pa.Table:
    """user_id and consented_on of the users whose latest consent for (collection, consumer) is ACTIVE."""
    return latest_active(lake, "consents", {"collection_id": collection_id, "consumer_id": consumer_id}, user_ids)


def consenting_columns(
    lake: Lake, batch: BatchInfo, consumer_id: str, users: pa.Table, active: pa.Table | None = None
) -> list[pa.Array]:
    """The dataset's columns for those of `users` (batch_users rows, PROFILE_COLUMNS, sorted) who consented to
    share their details with `consumer_id`; empty columns when none did.

    `active`: the ACTIVE latest consents (user_id, consented_on) when the caller has them already (the Spark
    index joins the consents by part); otherwise they are read from the lake.
    """
    enrolled = values.single(users, "user_id")
    consents = active_consents(lake, batch.collection_id, consumer_id, enrolled) if active is None else active
    positions = pc.index_in(enrolled, value_set=values.single(consents, "user_id"))
    consenting = pc.is_valid(positions)
    users = users.filter(consenting)
    length = users.num_rows
    consented_on = consents["consented_on"].take(positions.filter(consenting))
    return [
        *values.batch_columns(batch, length),
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
