"""response-exhaust: one row per question of every assessment attempt made in the batch (appendix III).

Only the batch's own attempts (the reference leaked attempts from the course's other batches). Rows in the
order (User UUID, QuestionSet Id, Attempt Id, question position). Attempted On is `dd/MM/yyyy HH:mm:ss` UTC;
Question Options and Question Response are the JSON text as recorded.

Question Response "(On user consent for question type registration)": the lake's `question_types` table says which
question types need the user's registration consent; for those, the response is shared only when the user's latest
`registration_consents` event for the course is ACTIVE, and the cell is left empty otherwise. A lake without
`question_types` needs no consent for any type.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.builders import common
from exhaust.builders.consents import latest_active
from exhaust.lake import values
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


def types_needing_consent(lake: Lake) -> pa.Array:
    rules = lake.read("question_types")
    return rules.filter(pc.fill_null(rules["requires_registration_consent"], False))["question_type"].combine_chunks()


def consented_responses(
    lake: Lake, collection_id: str, chunk: pa.Table, needing: pa.Array
) -> pa.ChunkedArray | pa.Array:
    """The chunk's responses, null where the question type needs registration consent the user has not given."""
    needs = pc.is_in(chunk["question_type"], value_set=needing)
    if not pc.any(needs).as_py():
        return chunk["question_response"]
    user_ids = values.single(chunk, "user_id")
    consenting = latest_active(lake, "registration_consents", {"collection_id": collection_id}, user_ids)
    allowed = pc.is_in(user_ids, value_set=consenting["user_id"].combine_chunks())
    hidden = pc.and_(pc.fill_null(needs, False), pc.invert(allowed))
    return pc.if_else(hidden, pa.scalar(None, pa.string()), chunk["question_response"])


def rows(lake: Lake, batch: BatchInfo, chunk_rows: int = common.CHUNK_ROWS) -> Iterator[tuple[pa.Buffer, int]]:
    collection = batch.collection
    needing = types_needing_consent(lake)

    def chunk_csv(chunk: pa.Table) -> tuple[pa.Buffer, int]:
        length = chunk.num_rows
        columns = [
            values.constant(collection.collection_id, length),
            values.constant(collection.name, length),
            values.constant(batch.batch_id, length),
            values.constant(batch.name, length),
            chunk["user_id"],
            chunk["content_id"],
            chunk["content_title"],
            chunk["attempt_id"],
            values.format_dates(values.single(chunk, "attempted_on"), with_time=True, repeated=True),
            *(chunk[name] for name in ATTEMPT_COLUMNS[5:-1]),
            consented_responses(lake, collection.collection_id, chunk, needing),
        ]
        return common.encode_csv(columns), length

    yield from common.batch_chunks(lake, "assessment_attempts", batch.batch_id, ATTEMPT_COLUMNS, chunk_csv, chunk_rows)
