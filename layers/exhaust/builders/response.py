"""response-exhaust: one row per question of every assessment attempt made in the batch (appendix III).

Only the batch's own attempts (the reference leaked attempts from the course's other batches). Rows in the
order (User UUID, QuestionSet Id, Attempt Id, question position). Attempted On is `dd/MM/yyyy HH:mm:ss` UTC;
Question Options and Question Response are the JSON text as recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from exhaust.builders import common
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
ATTEMPT_COLUMNS = [
    "user_id",
    "content_id",
    "content_title",
    "attempt_id",
    "attempted_on",
    "question_id",
    "question_type",
    "question_title",
    "question_description",
    "question_duration",
    "question_score",
    "question_max_score",
    "question_options",
    "question_response",
]


def header() -> list[str]:
    return list(LABELS)


def rows(lake: Lake, batch: BatchInfo, chunk_rows: int = common.CHUNK_ROWS) -> Iterator[tuple[pa.Buffer, int]]:
    collection = batch.collection

    def chunk_csv(chunk: pa.Table) -> tuple[pa.Buffer, int]:
        length = chunk.num_rows
        columns = [
            common.constant(collection.collection_id, length),
            common.constant(collection.name, length),
            common.constant(batch.batch_id, length),
            common.constant(batch.name, length),
            chunk["user_id"],
            chunk["content_id"],
            chunk["content_title"],
            chunk["attempt_id"],
            common.format_dates(common.single(chunk, "attempted_on"), with_time=True),
            *(chunk[name] for name in ATTEMPT_COLUMNS[5:]),
        ]
        return common.encode_csv(columns), length

    yield from common.batch_chunks(lake, "assessment_attempts", batch.batch_id, ATTEMPT_COLUMNS, chunk_csv, chunk_rows)
