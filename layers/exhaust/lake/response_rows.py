"""response-exhaust's rows (seed 002 appendix III): the one place of its rules, for the builder and the index.

One row per question of every assessment attempt made in the batch (the reference leaked attempts from the
course's other batches), in the order of assessment_attempts (User UUID, QuestionSet Id, Attempt Id, question
position). Attempted On is `dd/MM/yyyy HH:mm:ss` UTC; Question Options and Question Response are the JSON text as
recorded.

Question Response "(On user consent for question type registration)": the lake's `question_types` table says which
question types need the user's registration consent; for those, the response is shared only when the user's latest
`registration_consents` event for the course is ACTIVE, and the cell is left empty otherwise. A lake without
`question_types` needs no consent for any type.

The builder encodes these columns at a build (exhaust.builders.response); `exhaust lake index` stores them as
finished lines per batch (exhaust.lake.materialized), which a build streams while they are fresh.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.lake import values
from exhaust.lake.catalog import BatchInfo
from exhaust.lake.consents import latest_active
from exhaust.lake.store import Lake

ATTEMPT_COLUMNS = (
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
)


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


def columns(lake: Lake, batch: BatchInfo, chunk: pa.Table, needing: pa.Array) -> list[pa.Array | pa.ChunkedArray]:
    """The dataset's columns for a chunk of the batch's attempt rows (ATTEMPT_COLUMNS, in the table's order);
    `needing` is `types_needing_consent(lake)`."""
    length = chunk.num_rows
    return [
        *values.batch_columns(batch, length),
        chunk["user_id"],
        chunk["content_id"],
        chunk["content_title"],
        chunk["attempt_id"],
        values.format_dates(values.single(chunk, "attempted_on"), with_time=True, repeated=True),
        *(chunk[name] for name in ATTEMPT_COLUMNS[5:-1]),
        consented_responses(lake, batch.collection_id, chunk, needing),
    ]
