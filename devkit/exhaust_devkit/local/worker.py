"""Local mode's worker: what SQS, the dispatcher, Step Functions and the sweeper do in AWS, on threads.

It long-polls the requests queue with short waits (so stopping takes about a second), applies the dispatcher's
rules to each message, and runs the workflow definition in-process (exhaust_devkit.pipeline.runner) on the same steps
the deployed functions call. A message is deleted once dispatched; one that failed becomes visible again soon. The
sweeper runs every `sweep_interval` seconds.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from exhaust import aws
from exhaust.observability import logger
from exhaust.pipeline.definition import BUILDER_FUNCTION, DEFAULT_MAP_MAX_CONCURRENCY, workflow_definition
from exhaust.pipeline.dispatch import Dispatcher
from exhaust.pipeline.steps import Pipeline
from exhaust.pipeline.sweeper import Sweeper
from exhaust.requests.adapters import RequestQueue
from exhaust.settings import RuntimeSettings

from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, step_functions

POLL_WAIT_SECONDS = 1
# Locally a request retried after a failure waits seconds, not the minutes it waits in AWS.
LOCAL_RETRY_BASE_DELAY_SECONDS = 2
# Also the local throttle's delay: a request of a busy channel is looked at again this soon.
LOCAL_THROTTLE_DELAY_SECONDS = 2
# A message whose dispatch failed (or whose dispatcher died mid-claim) is delivered again this soon.
LOCAL_HOLD_SECONDS = 5


def full_jitter(interval: float) -> float:
    """Step Functions' JitterStrategy FULL: a uniform wait in [0, interval]."""
    return random.uniform(0, interval)


@dataclass
class LocalWorker:
    settings: RuntimeSettings
    stopping: threading.Event = field(default_factory=threading.Event)
    sweep_interval: float = 30.0
    workflow: LocalWorkflow | None = None
    map_max_concurrency: int = DEFAULT_MAP_MAX_CONCURRENCY

    def __post_init__(self) -> None:
        pipeline = Pipeline(
            settings=self.settings,
            retry_base_delay_seconds=LOCAL_RETRY_BASE_DELAY_SECONDS,
            transient_retry_delay_seconds=LOCAL_RETRY_BASE_DELAY_SECONDS,
        )
        if self.workflow is None:
            definition = workflow_definition(self.map_max_concurrency)
            # The builder's timeout as deployed: a batch that outgrows it fails alone, as in AWS.
            timeouts = {BUILDER_FUNCTION: float(self.settings.builder_timeout_seconds)}
            runner = LocalRunner(definition, step_functions(pipeline), jitter=full_jitter, timeouts=timeouts)
            self.workflow = LocalWorkflow(runner)
        self.queue = RequestQueue(self.settings.queue_url)
        self.dispatcher = Dispatcher(
            queue=self.queue,
            workflow=self.workflow,
            settings=self.settings,
            throttle_delay_seconds=LOCAL_THROTTLE_DELAY_SECONDS,
            claim_hold_seconds=LOCAL_HOLD_SECONDS,
            retry_hold_seconds=LOCAL_HOLD_SECONDS,
        )
        self.sweeper = Sweeper(pipeline=pipeline, workflow=self.workflow)

    def run(self) -> None:
        """Until `stopping` is set: drain the queue, sweep on the interval."""
        next_sweep = time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    self.poll_once()
                    if time.monotonic() >= next_sweep:
                        self.sweeper.sweep()
                        next_sweep = time.monotonic() + self.sweep_interval
                except Exception:
                    if self.stopping.is_set():
                        break  # the moto server is going away with the rest of local mode
                    logger.exception("local worker loop failed; continuing")
                    self.stopping.wait(1)
        finally:
            assert self.workflow is not None
            self.workflow.shutdown()

    def poll_once(self) -> int:
        sqs = aws.client("sqs")
        answer = sqs.receive_message(
            QueueUrl=self.settings.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_WAIT_SECONDS
        )
        messages = answer.get("Messages", [])
        for message in messages:
            receipt = message["ReceiptHandle"]
            try:
                self.dispatcher.dispatch_message(message["Body"], hold=partial(self.queue.hold, receipt))
            except Exception:
                logger.exception("dispatch failed; the message comes back", extra={"message_id": message["MessageId"]})
                continue
            sqs.delete_message(QueueUrl=self.settings.queue_url, ReceiptHandle=receipt)
        return len(messages)
