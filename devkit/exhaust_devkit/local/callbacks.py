"""Local mode's callback deliverer: what the callbacks function and its FIFO queue do in AWS, on a few threads.

Each thread takes one message at a time. The queue is FIFO, grouped by channel, so a channel's next callback is
not handed out while one of its callbacks is in flight: a partner's endpoint that never answers holds one thread,
and the other threads go on with the other channels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from exhaust import aws
from exhaust.observability import logger
from exhaust.pipeline.callbacks import CallbackDeliverer
from exhaust.settings import RuntimeSettings

LOCAL_CALLBACK_THREADS = 4
POLL_WAIT_SECONDS = 1


@dataclass
class LocalCallbacks:
    settings: RuntimeSettings
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.deliverer = CallbackDeliverer()

    def run(self) -> None:
        """Until `stopping` is set: one callback at a time."""
        sqs = aws.client("sqs")
        url = self.settings.callback_queue_url
        while not self.stopping.is_set():
            try:
                answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=POLL_WAIT_SECONDS)
                for message in answer.get("Messages", []):
                    self.deliverer.deliver_message(message["Body"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            except Exception:
                if self.stopping.is_set():
                    break  # the moto server is going away with the rest of local mode
                logger.exception("local callback delivery failed; continuing")
                self.stopping.wait(1)
