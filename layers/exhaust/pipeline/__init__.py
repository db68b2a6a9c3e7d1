"""The exhaust pipeline: how a SUBMITTED request becomes encrypted files (docs/pipeline.md).

    definition          the ONE workflow definition (Amazon States Language), used by the CDK state machine and
                        the runner; each Task's payload comes from its step's input model
    steps               plan / build_batch / finalize / mark_failed, one module each, typed input and output
    errors              the errors the workflow's Retry and Catch clauses know by name
    dispatch            SQS message -> one execution per request attempt, with the per-channel throttle
    sweeper             re-queues lost SUBMITTED requests, recovers PROCESSING requests whose execution ended
    cancel_and_delete   the partner's cancel and delete of a request
    notify              the completion event (EventBridge) and the signed https callback
    runner              executes the definition in-process (local mode's worker, tests)
    executions          the Step Functions adapter of the Workflow port (exhaust.ports), execution names
    entry               the functions' cached dependencies

Nothing here imports pyarrow at module level: the zip Lambdas (dispatcher, sweeper, finalize, mark_failed) load it
without the builder image's dependencies.
"""
