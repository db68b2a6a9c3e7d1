"""progress-exhaust: one row per enrolment of the batch (seed 002 appendix I).

Columns: the appendix's static columns in its order, then `<nested collection id> - Progress` for each nested
trackable unit and `<assessment id> - Score` for each scored assessment (SelfAssess or practice question set),
both in the collection's hierarchy order (depth first, as the collections table stores them). Rows are in User
UUID order. The rows are computed when the lake is indexed (exhaust.lake.progress_lines, where the values'
rules are); a build streams them from the batch_users extract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from exhaust.builders import common
from exhaust.lake.catalog import BatchInfo, CollectionInfo
from exhaust.lake.extracts import BATCH_USERS, PROGRESS_LINE
from exhaust.lake.store import Lake

STATIC_LABELS = (
    "Collection Id",
    "Collection Name",
    "Batch Id",
    "Batch Name",
    "User UUID",
    "State",
    "District",
    "Org Name",
    "School Id",
    "School Name",
    "Block Name",
    "Declared Board",
    "Cluster",
    "Usertype",
    "Usersubtype",
    "Declared Org",
    "Enrolment Date",
    "Completion Date",
    "Progress",
    "Certificate Status",
    "Total Score",
)


def header(collection: CollectionInfo) -> list[str]:
    return [
        *STATIC_LABELS,
        *(f"{unit.unit_id} - Progress" for unit in collection.trackable_units),
        *(f"{assessment.assessment_id} - Score" for assessment in collection.scored_assessments),
    ]


def rows(lake: Lake, batch: BatchInfo, chunk_rows: int = common.CHUNK_ROWS) -> Iterator[tuple[pa.Buffer, int]]:
    """CSV chunks (without the header) of the batch's rows, with their row counts: the index's lines, in order."""
    return common.stored_lines(lake, BATCH_USERS, {"batch_id": batch.batch_id}, PROGRESS_LINE, chunk_rows)
