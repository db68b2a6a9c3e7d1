"""progress-exhaust's rows as finished CSV lines, computed when the lake is indexed (exhaust.lake.extracts).

progress-exhaust depends only on the loaded lake (the batch, its collection's structure, the enrolments, the
profiles and the best attempts; no consent), so `exhaust lake index` stores each enrolment's line and the builder
(exhaust.builders.progress) streams them. The values are those of seed 002 appendix I (docs/lake.md):

- Progress: 100 when the enrolment is completed; else completed leaf contents / the collection's leaf count x 100,
  rounded half up, capped at 100; empty when the leaf count is unknown or 0 (the reference showed 100).
- Nested progress: the same from the unit's own leaf contents and leaf count (empty when unknown).
- Certificate Status: Issued when any certificate was issued, Failed when one failed and none was issued, else empty.
- `<id> - Score`: the best attempt (highest score) of the batch's attempts at that assessment, as ceil(%).
- Total Score: the best attempts of all scored assessments, ceil(sum score x 100 / sum max)%.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from exhaust.lake import values
from exhaust.lake.catalog import BatchInfo
from exhaust.lake.schemas import CERTIFICATE_FAILED, CERTIFICATE_ISSUED, ENROLMENT_COMPLETED

ENROLMENT_COLUMNS = ("user_id", "enrolled_on", "completed_on", "status", "completed_contents", "certificates")


def _progress(count: pa.Array, leaf_count: int | None) -> pa.Array:
    if not leaf_count or leaf_count <= 0:
        return pa.nulls(len(count), pa.int64())
    rounded = pc.divide(pc.add(pc.multiply(count, 200), leaf_count), 2 * leaf_count)
    return pc.min_element_wise(rounded, 100)


def _certificate_status(certificates: pa.ListArray) -> pa.Array:
    statuses = certificates.values.field("status")
    per_status = pa.ListArray.from_arrays(certificates.offsets, statuses)
    issued = pc.greater(values.list_match_counts(per_status, pa.array([CERTIFICATE_ISSUED])), 0)
    failed = pc.greater(values.list_match_counts(per_status, pa.array([CERTIFICATE_FAILED])), 0)
    blank = pa.scalar(None, pa.string())
    return pc.if_else(issued, CERTIFICATE_ISSUED, pc.if_else(failed, CERTIFICATE_FAILED, blank))


def _spread(positions: pa.Array, placed: pa.Array, length: int) -> pa.Array:
    """`placed` at row `positions` (distinct, any order) of `length` rows, null elsewhere."""
    return pc.scatter(placed, positions, max_index=length - 1)


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
        by_assessment.append(values.percent(pc.take(score.filter(mine), where), pc.take(maximum.filter(mine), where)))
    owners = pc.list_parent_indices(best_attempts)
    counted = pa.table({"row": owners, "score": score, "max": maximum}).filter(
        pc.is_in(content, value_set=pa.array(scored, pa.string()))
    )
    totals = counted.group_by("row", use_threads=False).aggregate([("score", "sum"), ("max", "sum")])
    total_rows = values.single(totals, "row")
    total = values.percent(
        _spread(total_rows, values.single(totals, "score_sum"), length),
        _spread(total_rows, values.single(totals, "max_sum"), length),
    )
    return total, by_assessment


def lines(batch: BatchInfo, enrolments: pa.Table, users: pa.Table) -> pa.Array:
    """The batch's CSV lines for some of its enrolments (ENROLMENT_COLUMNS) and their batch_users rows, aligned
    (profiles and best_attempts): computed when the lake is indexed, streamed by exhaust.builders.progress.
    """
    collection = batch.collection
    length = enrolments.num_rows
    scored = [assessment.assessment_id for assessment in collection.scored_assessments]
    unit_leaves = [(pa.array(unit.leaf_ids, pa.string()), unit.leaf_count) for unit in collection.trackable_units]
    completed = pc.equal(values.single(enrolments, "status"), ENROLMENT_COMPLETED)
    leaf_sets = [pa.array(collection.leaf_ids, pa.string()), *(leaves for leaves, _ in unit_leaves)]
    counts = values.list_match_counts_of_each(values.single(enrolments, "completed_contents"), leaf_sets)
    overall = pc.if_else(completed, pa.scalar(100, pa.int64()), _progress(counts[0], collection.leaf_count))
    unit_columns = [
        _progress(count, leaf_count) for count, (_, leaf_count) in zip(counts[1:], unit_leaves, strict=True)
    ]
    total_score, score_columns = scores(values.single(users, "best_attempts"), scored)
    return values.csv_lines(
        [
            *values.batch_columns(batch, length),
            values.single(enrolments, "user_id"),
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
            values.format_dates(values.single(enrolments, "enrolled_on")),
            values.format_dates(values.single(enrolments, "completed_on")),
            overall,
            _certificate_status(values.single(enrolments, "certificates")),
            total_score,
            *unit_columns,
            *score_columns,
        ]
    )
