"""userinfo-exhaust: enrolled users who consented to share their details with the requesting org (appendix II).

Only for collections that ask for consent. The rules (who appears, each column) are in exhaust.lake.userinfo_rows;
the appendix's "(On user consent)" notes are not part of the labels. Rows are in User UUID order.

A build streams the lines `exhaust lake index` stored for (batch, requesting org) while they are fresh
(exhaust.lake.materialized); otherwise, e.g. after a consent file was loaded since, it computes them from
batch_users and the consents, with the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from exhaust.builders import common
from exhaust.lake import materialized, userinfo_rows
from exhaust.lake.catalog import BatchInfo
from exhaust.lake.extracts import BATCH_USERS, check_indexed
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


def rows(
    lake: Lake, batch: BatchInfo, channel: str, chunk_rows: int = common.CHUNK_ROWS
) -> tuple[common.RowsFrom, Iterator[tuple[pa.Buffer, int]]]:
    """Where the rows come from (the index's lines or live, with why) and the CSV chunks (without the header)."""
    stored = materialized.stored_userinfo(lake, batch, channel)
    if stored.keys is not None:
        return common.FROM_INDEX, common.stored_lines(lake, stored.table, stored.keys, stored.column, chunk_rows)
    check_indexed(lake)  # the live rows read the profiles of batch_users
    return common.RowsFrom(common.LIVE, stored.stale), live_rows(lake, batch, channel, chunk_rows)


def live_rows(
    lake: Lake, batch: BatchInfo, channel: str, chunk_rows: int = common.CHUNK_ROWS
) -> Iterator[tuple[pa.Buffer, int]]:
    """The rows computed from batch_users (one row per enrolment, with its profile, in the enrolments' order: no
    enrolments read, no profiles aligned) and the consents."""

    def chunk_csv(users: pa.Table) -> tuple[pa.Buffer, int]:
        columns = userinfo_rows.consenting_columns(lake, batch, channel, users)
        length = len(columns[0])
        return (common.encode_csv(columns), length) if length else (pa.py_buffer(b""), 0)

    yield from common.batch_chunks(
        lake,
        BATCH_USERS,
        {"batch_id": batch.batch_id},
        userinfo_rows.PROFILE_COLUMNS,
        chunk_csv,
        chunk_rows,
        dictionary=userinfo_rows.DICTIONARY_COLUMNS,
    )
