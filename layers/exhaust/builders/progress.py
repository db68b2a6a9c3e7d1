"""progress-exhaust: one row per enrolment of the batch (seed 002 appendix I).

Columns: the appendix's static columns in its order, then `<nested collection id> - Progress` for each nested
trackable unit and `<assessment id> - Score` for each scored assessment (SelfAssess or practice question set),
both in the collection's hierarchy order (depth first, as the collections table stores them). Rows are in User
UUID order.

Values:
- Progress: 100 when the enrolment is completed; else completed leaf contents / the collection's leaf count x 100,
  rounded half up, capped at 100; empty when the leaf count is unknown or 0 (the reference showed 100).
- Nested progress: the same from the unit's own leaf contents and leaf count (empty when unknown).
- Certificate Status: Issued when any certificate was issued, Failed when one failed and none was issued, else empty.
- `<id> - Score`: the best attempt (highest score) of the batch's attempts at that assessment, as ceil(%).
- Total Score: the best attempts of all scored assessments, ceil(sum score x 100 / sum max)%.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.builders import common
from exhaust.lake.catalog import BatchInfo, CollectionInfo
from exhaust.lake.extracts import BATCH_USERS, PROGRESS_LINE
from exhaust.lake.schemas import CERTIFICATE_FAILED, CERTIFICATE_ISSUED, ENROLMENT_COMPLETED
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
ENROLMENT_COLUMNS = ("user_id", "enrolled_on", "completed_on", "status", "completed_contents", "certificates")
USER_COLUMNS = (
    "user_id",
    "state",
    "district",
    "org_name",
    "school_id",
    "school_name",
    "block",
    "board",
    "cluster",
    "user_type",
    "user_sub_type",
    "declared_org",
)


def header(collection: CollectionInfo) -> list[str]:
    return [
        *STATIC_LABELS,
        *(f"{unit.unit_id} - Progress" for unit in collection.trackable_units),
        *(f"{assessment.assessment_id} - Score" for assessment in collection.scored_assessments),
    ]


def _progress(count: pa.Array, leaf_count: int | None) -> pa.Array:
    if not leaf_count or leaf_count <= 0:
        return pa.nulls(len(count), pa.int64())
    rounded = pc.divide(pc.add(pc.multiply(count, 200), leaf_count), 2 * leaf_count)
    return pc.min_element_wise(rounded, 100)


def _certificate_status(certificates: pa.ListArray) -> pa.Array:
    statuses = certificates.values.field("status")
    per_status = pa.ListArray.from_arrays(certificates.offsets, statuses)
    issued = pc.greater(common.list_match_counts(per_status, pa.array([CERTIFICATE_ISSUED])), 0)
    failed = pc.greater(common.list_match_counts(per_status, pa.array([CERTIFICATE_FAILED])), 0)
    blank = pa.scalar(None, pa.string())
    return pc.if_else(issued, CERTIFICATE_ISSUED, pc.if_else(failed, CERTIFICATE_FAILED, blank))


def _spread(positions: pa.Array, values: pa.Array, length: int) -> pa.Array:
    """`values` placed at row `positions` (distinct, any order) of `length` rows, null elsewhere."""
    return pc.scatter(values, positions, max_index=length - 1)


def _match_per_list(lists: pa.ListArray, matches: pa.Array) -> pa.Array:
    """For each list, the position among the `matches` (a mask over its flattened values) of its one match, or
    null where it has none (each list holds an assessment at most once).

    Counting the matches before each list's start needs no hashing: two takes of a running count.
    """
    running = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(pc.cast(matches, pa.int64()))])
    before = pc.take(running, lists.offsets.slice(0, len(lists)))
    through = pc.take(running, lists.offsets.slice(1))
    return pc.if_else(pc.greater(through, before), before, pa.scalar(None, pa.int64()))


def scores(best_attempts: pa.ListArray, scored: list[str]) -> tuple[pa.Array, list[pa.Array]]:
    """Total Score and each scored assessment's Score for the rows' best attempts (batch_users extract)."""
    length = len(best_attempts)
    # The same lists from offset 0 and without a validity bitmap (a user without attempts has an empty range),
    # so the offsets, the flattened entries and their parent indices all agree.
    first, last = best_attempts.offsets[0].as_py(), best_attempts.offsets[-1].as_py()
    best_attempts = pa.ListArray.from_arrays(
        pc.subtract(best_attempts.offsets, first), best_attempts.values.slice(first, last - first)
    )
    entries = best_attempts.values
    content = pc.struct_field(entries, "content_id")
    score, maximum = pc.struct_field(entries, "score"), pc.struct_field(entries, "max")
    by_assessment = []
    for assessment_id in scored:
        mine = pc.equal(content, assessment_id)
        where = _match_per_list(best_attempts, mine)
        by_assessment.append(common.percent(pc.take(score.filter(mine), where), pc.take(maximum.filter(mine), where)))
    owners = pc.list_parent_indices(best_attempts)
    counted = pa.table({"row": owners, "score": score, "max": maximum}).filter(
        pc.is_in(content, value_set=pa.array(scored, pa.string()))
    )
    totals = counted.group_by("row", use_threads=False).aggregate([("score", "sum"), ("max", "sum")])
    total_rows = common.single(totals, "row")
    total = common.percent(
        _spread(total_rows, common.single(totals, "score_sum"), length),
        _spread(total_rows, common.single(totals, "max_sum"), length),
    )
    return total, by_assessment


def lines(batch: BatchInfo, enrolments: pa.Table, users: pa.Table) -> pa.Array:
    """The batch's CSV lines for some of its enrolments (ENROLMENT_COLUMNS) and their profiles, aligned (USER_COLUMNS
    and best_attempts): computed when the lake is indexed (exhaust.lake.extracts), read by `rows`.
    """
    collection = batch.collection
    length = enrolments.num_rows
    scored = [assessment.assessment_id for assessment in collection.scored_assessments]
    unit_leaves = [(pa.array(unit.leaf_ids, pa.string()), unit.leaf_count) for unit in collection.trackable_units]
    completed = pc.equal(common.single(enrolments, "status"), ENROLMENT_COMPLETED)
    leaf_sets = [pa.array(collection.leaf_ids, pa.string()), *(leaves for leaves, _ in unit_leaves)]
    counts = common.list_match_counts_of_each(common.single(enrolments, "completed_contents"), leaf_sets)
    overall = pc.if_else(completed, pa.scalar(100, pa.int64()), _progress(counts[0], collection.leaf_count))
    unit_columns = [
        _progress(count, leaf_count) for count, (_, leaf_count) in zip(counts[1:], unit_leaves, strict=True)
    ]
    total_score, score_columns = scores(common.single(users, "best_attempts"), scored)
    return common.csv_lines(
        [
            common.constant(collection.collection_id, length),
            common.constant(collection.name, length),
            common.constant(batch.batch_id, length),
            common.constant(batch.name, length),
            common.single(enrolments, "user_id"),
            users["state"],
            users["district"],
            users["org_name"],
            users["school_id"],
            users["school_name"],
            users["block"],
            users["board"],
            users["cluster"],
            users["user_type"],
            users["user_sub_type"],
            users["declared_org"],
            common.format_dates(common.single(enrolments, "enrolled_on")),
            common.format_dates(common.single(enrolments, "completed_on")),
            overall,
            _certificate_status(common.single(enrolments, "certificates")),
            total_score,
            *unit_columns,
            *score_columns,
        ]
    )


def rows(lake: Lake, batch: BatchInfo, chunk_rows: int = common.CHUNK_ROWS) -> Iterator[tuple[pa.Buffer, int]]:
    """CSV chunks (without the header) of the batch's rows, with their row counts: the index's lines, in order."""

    def chunk_csv(chunk: pa.Table) -> tuple[pa.Buffer, int]:
        return common.joined_lines(chunk.column(PROGRESS_LINE)), chunk.num_rows

    yield from common.batch_chunks(lake, BATCH_USERS, batch.batch_id, [PROGRESS_LINE], chunk_csv, chunk_rows)
