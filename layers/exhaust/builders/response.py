"""response-exhaust: one row per question of every assessment attempt made in the batch (appendix III).

The rules (which attempts, their order, the responses hidden without registration consent) are in
exhaust.lake.response_rows. A build streams the lines `exhaust lake index` stored for the batch while they are
fresh (exhaust.lake.materialized); otherwise, e.g. after registration consents were loaded since, it computes
them from the batch's attempts, with the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from exhaust.builders import common
from exhaust.lake import materialized, response_rows
from exhaust.lake.catalog import BatchInfo
from exhaust.lake.store import Lake

LABELS = (
    "Collection Id",
    "Collection Name",
    "Batch Id",
    "Batch Name",
    "User UUID",
    "QuestionSet Id",
    "QuestionSet Title",
    "Attempt Id",
    "Attempted On",
    "Question Id",
    "Question Type",
    "Question Title",
    "Question Description",
    "Question Duration",
    "Question Score",
    "Question Max Score",
    "Question Options",
    "Question Response",
)


def header() -> list[str]:
    return list(LABELS)


def rows(
    lake: Lake, batch: BatchInfo, chunk_rows: int = common.CHUNK_ROWS
) -> tuple[common.RowsFrom, Iterator[tuple[pa.Buffer, int]]]:
    """Where the rows come from (the index's lines or live, with why) and the CSV chunks (without the header)."""
    stored = materialized.stored_response(lake, batch)
    if stored.keys is not None:
        return common.FROM_INDEX, common.stored_lines(lake, stored.table, stored.keys, stored.column, chunk_rows)
    return common.RowsFrom(common.LIVE, stored.stale), live_rows(lake, batch, chunk_rows)


def live_rows(lake: Lake, batch: BatchInfo, chunk_rows: int = common.CHUNK_ROWS) -> Iterator[tuple[pa.Buffer, int]]:
    """The rows computed from the batch's attempt rows and the registration consents."""
    needing = response_rows.types_needing_consent(lake)

    def chunk_csv(chunk: pa.Table) -> tuple[pa.Buffer, int]:
        return common.encode_csv(response_rows.columns(lake, batch, chunk, needing)), chunk.num_rows

    yield from common.batch_chunks(
        lake, "assessment_attempts", {"batch_id": batch.batch_id}, response_rows.ATTEMPT_COLUMNS, chunk_csv, chunk_rows
    )
