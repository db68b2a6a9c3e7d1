"""Cached dependencies of the pipeline's functions (built on first use, never at import), one getter each."""

from __future__ import annotations

from functools import lru_cache

from exhaust.pipeline.callbacks import CallbackDeliverer
from exhaust.pipeline.dispatch import Dispatcher
from exhaust.pipeline.steps import Pipeline
from exhaust.pipeline.sweeper import Sweeper
from exhaust.requests.adapters import RequestQueue


@lru_cache(maxsize=1)
def pipeline() -> Pipeline:
    return Pipeline()


@lru_cache(maxsize=1)
def dispatcher() -> Dispatcher:
    return Dispatcher()


def message_queue() -> RequestQueue:
    """The requests queue's adapter: the dispatcher's function holds (re-times) the message it dispatches with it."""
    return RequestQueue()


@lru_cache(maxsize=1)
def sweeper() -> Sweeper:
    return Sweeper(pipeline=pipeline())


@lru_cache(maxsize=1)
def callback_deliverer() -> CallbackDeliverer:
    return CallbackDeliverer()
