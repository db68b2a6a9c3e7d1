"""org-pii-exhaust: the users who gave the requesting org an ACTIVE org-level consent (seed 002 appendix IV).

The organisation is the scope: no batch, no course. A user appears when their latest `org_consents` event for the
requesting org (the request's channel) is ACTIVE and not expired (`expires_on`, valid through that day, is not
before the build date); revoked, expired, absent or another org's consent leaves them out. Org Phone and Org Email
ID are the ones given with that consent; the rest comes from the profile (`users`) and `user_identifiers`. Rows
in User UUID order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.builders import common
from exhaust.lake import values
from exhaust.lake.consents import latest_active
from exhaust.lake.store import Lake

# Appendix IV in its order and wording; the extracted seed reads "Org Org Phone", a doubled word (docs/decisions.md).
LABELS = (
    "Name",
    "User UUID",
    "State",
    "District",
    "Block",
    "Cluster",
    "School Name",
    "School UDISE ID",
    "External ID",
    "Profile Email",
    "Profile Phone number",
    "Org Phone",
    "Org Email ID",
    "Usertype",
    "Usersubtype",
    "Root Org of the user",
)
PROFILE_COLUMNS = (
    "user_id",
    "name",
    "state",
    "district",
    "block",
    "cluster",
    "school_name",
    "email",
    "phone",
    "user_type",
    "user_sub_type",
    "root_org_id",
)
CONSENT_DETAILS = ("expires_on", "org_phone", "org_email")


def header() -> list[str]:
    return list(LABELS)


def current_consents(lake: Lake, channel: str, day: dt.date) -> pa.Table:
    """The org's users with an ACTIVE, unexpired latest consent: user_id, consented_on, org phone and email."""
    latest = latest_active(lake, "org_consents", {"consumer_id": channel}, columns=CONSENT_DETAILS)
    expires = latest["expires_on"]
    valid = pc.or_kleene(pc.is_null(expires), pc.greater_equal(expires, pa.scalar(day, pa.date32())))
    return latest.filter(pc.fill_null(valid, False))


def profiles_of(lake: Lake, user_ids: pa.Array) -> pa.Table:
    """The users' profiles aligned with `user_ids`: the org's consenting users are no batch's, so the users table."""
    found = lake.read(
        "users",
        list(PROFILE_COLUMNS),
        between={"user_id": values.user_range(user_ids)},
        isin={"user_id": user_ids},
    )
    return common.align(found, "user_id", user_ids)


def identifiers_of(lake: Lake, user_ids: pa.Array) -> pa.Table:
    found = lake.read(
        "user_identifiers",
        ["user_id", "school_udise_id", "external_id"],
        between={"user_id": values.user_range(user_ids)},
        isin={"user_id": user_ids},
    )
    return common.align(found, "user_id", user_ids)


def rows(
    lake: Lake, channel: str, day: dt.date, chunk_rows: int = common.CHUNK_ROWS
) -> Iterator[tuple[pa.Buffer, int]]:
    consents = current_consents(lake, channel, day)
    for start in range(0, consents.num_rows, chunk_rows):
        chunk = consents.slice(start, chunk_rows)
        user_ids = values.single(chunk, "user_id")
        users = profiles_of(lake, user_ids)
        identifiers = identifiers_of(lake, user_ids)
        columns = [
            users["name"],
            user_ids,
            users["state"],
            users["district"],
            users["block"],
            users["cluster"],
            users["school_name"],
            identifiers["school_udise_id"],
            identifiers["external_id"],
            users["email"],
            users["phone"],
            chunk["org_phone"],
            chunk["org_email"],
            users["user_type"],
            users["user_sub_type"],
            users["root_org_id"],
        ]
        yield common.encode_csv(columns), chunk.num_rows
