"""The workflow's steps, one module each, every one a function (pipeline, typed input) -> typed output:

    plan          PlanInput -> PlanOutput                resolve and limit the batches; their ids to S3
    build_batch   BuildBatchInput -> BuildBatchOutput    one batch's encrypted zip, recorded
    finalize      FinalizeInput -> FinalizeOutput        the manifest and SUCCESS, or the attempt ends
    mark_failed   MarkFailedInput -> MarkFailedOutput    what the Catch clauses reach: the attempt ends

Each module's `handle(pipeline, event)` is its function's entry; the workflow document (exhaust.pipeline.definition)
builds each Task's Payload from the step's input model. What they share: context (the adapters as Pipeline,
ownership, conditional writes, error kinds) and attempts (how an attempt ends). None of them imports pyarrow at
module level.
"""

from exhaust.pipeline.steps.attempts import end_attempt, retry_delay_seconds
from exhaust.pipeline.steps.context import Pipeline, classify, failure_message, now_ms

__all__ = ["Pipeline", "classify", "end_attempt", "failure_message", "now_ms", "retry_delay_seconds"]
