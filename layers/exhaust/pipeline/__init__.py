"""The exhaust pipeline: how a SUBMITTED request becomes encrypted files (docs/pipeline.md).

    definition   the ONE workflow definition (Amazon States Language), used by the CDK state machine and the runner
    steps        plan / build_batch / finalize / mark_failed: the workflow's steps as plain functions
    dispatch     SQS message -> one execution per request attempt, with the per-channel throttle
    sweeper      re-queues lost SUBMITTED requests, recovers PROCESSING requests whose execution ended
    notify       the completion event (EventBridge) and the signed https callback
    runner       executes the definition in-process (local mode's worker, tests)
    workflow     the Step Functions adapter of the Workflow port (exhaust.ports), execution names

Nothing here imports pyarrow at module level: the zip Lambdas (dispatcher, sweeper, finalize, mark_failed) load it
without the builder image's dependencies.
"""
