"""The lake's derived tables, written when the lake is loaded: `exhaust lake index` after new enrolments, users
or attempts.

`batch_users`: every enrolment's user profile, sorted by (batch_id, user_id) like enrolments, each batch in row
groups of its own. A builder then reads a batch's profiles as one run of rows, whatever the batch's size,
instead of looking its users up across the whole users table (a 387-row batch of a 1,000,000-user lake read
28 MB of users in 125 ranged reads; it now reads one row group). An enrolment whose user is unknown gets a row
with only its ids. The builders refuse a batch whose extract is missing or does not match its enrolments.

Each row also holds the user's best attempt at each content within the batch (`best_attempts`), so
progress-exhaust reads scores with the profiles instead of grouping the batch's question rows per chunk.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.lake import schemas
from exhaust.lake.store import Lake

BATCH_USERS = "batch_users"
INDEX_COMMAND = "exhaust lake index --lake <root>"
# Joins (batch_id, user_id) into one key; neither identifier holds this control character.
_KEY_SEPARATOR = "\x1f"


class LakeNotIndexed(RuntimeError):
    """The batch_users extract is missing or older than the enrolments: re-run the lake's indexing."""

    def __init__(self, batch_id: str, enrolments: int, profiles: int):
        super().__init__(
            f"the lake's {BATCH_USERS} extract holds {profiles} rows for batch {batch_id}, its enrolments "
            f"{enrolments}: run `{INDEX_COMMAND}` after loading enrolments, users or attempts"
        )


def write_batch_users(lake: Lake) -> int:
    """(Re)write the batch_users extract from enrolments, users and attempts; answer its row count."""
    enrolled = lake.read("enrolments", ["batch_id", "user_id"])
    users = lake.read("users")
    positions = pc.index_in(enrolled["user_id"], value_set=users["user_id"].combine_chunks())
    profiles = users.take(positions)
    columns = {"batch_id": enrolled["batch_id"], "user_id": enrolled["user_id"]}
    for name in schemas.USERS.names:
        columns.setdefault(name, profiles[name])
    keys, best = best_attempts_by_enrolment(lake)
    columns["best_attempts"] = best.take(pc.index_in(_enrolment_key(enrolled), value_set=keys))
    lake.write(BATCH_USERS, pa.table(columns, schema=schemas.BATCH_USERS))
    return enrolled.num_rows


def _enrolment_key(table: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        table["batch_id"].combine_chunks(), table["user_id"].combine_chunks(), _KEY_SEPARATOR
    )


def best_attempts_by_enrolment(lake: Lake) -> tuple[pa.Array, pa.ListArray]:
    """(batch_id, user_id) keys and, for each, the best attempt per content, in content_id order.

    An attempt's score and max are the sums over its questions (nulls skipped); the best has the highest score,
    then the lowest max; an attempt without any score ranks last.
    """
    rows = lake.read(
        "assessment_attempts",
        ["batch_id", "user_id", "content_id", "attempt_id", "question_score", "question_max_score"],
    )
    attempts = rows.group_by(["batch_id", "user_id", "content_id", "attempt_id"]).aggregate(
        [("question_score", "sum"), ("question_max_score", "sum")]
    )
    ordered = attempts.sort_by(
        [
            ("batch_id", "ascending"),
            ("user_id", "ascending"),
            ("content_id", "ascending"),
            ("question_score_sum", "descending"),
            ("question_max_score_sum", "ascending"),
        ]
    )
    # Without threads, "first" takes each group's first row in the order above; groups come out in any order.
    best = ordered.group_by(["batch_id", "user_id", "content_id"], use_threads=False).aggregate(
        [("question_score_sum", "first"), ("question_max_score_sum", "first")]
    )
    best = best.sort_by([("batch_id", "ascending"), ("user_id", "ascending"), ("content_id", "ascending")])
    entries = pa.StructArray.from_arrays(
        [
            best["content_id"].combine_chunks(),
            best["question_score_sum_first"].combine_chunks(),
            best["question_max_score_sum_first"].combine_chunks(),
        ],
        fields=list(schemas.BEST_ATTEMPT),
    )
    keys = _enrolment_key(best)
    # Each enrolment's entries are a run of rows: its list starts where the key changes.
    changes = pc.indices_nonzero(pc.not_equal(keys.slice(1), keys.slice(0, max(len(keys) - 1, 0))))
    starts = pa.concat_arrays([pa.array([0] if len(keys) else [], pa.int32()), pc.cast(pc.add(changes, 1), pa.int32())])
    offsets = pa.concat_arrays([starts, pa.array([len(keys)], pa.int32())])
    return keys.take(starts), pa.ListArray.from_arrays(offsets, entries)


def check_indexed(lake: Lake, batch_id: str) -> None:
    """Raise LakeNotIndexed unless the extract has exactly one profile row per enrolment of the batch."""
    enrolments = lake.count("enrolments", equals={"batch_id": batch_id})
    profiles = lake.count(BATCH_USERS, equals={"batch_id": batch_id})
    if profiles != enrolments:
        raise LakeNotIndexed(batch_id, enrolments, profiles)
