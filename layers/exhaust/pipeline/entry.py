"""Cached dependencies of the pipeline's functions (built on first use, never at import), one getter each."""

from __future__ import annotations

from functools import lru_cache

from exhaust.pipeline.dispatch import Dispatcher
from exhaust.pipeline.steps import Pipeline
from exhaust.pipeline.sweeper import Sweeper


@lru_cache(maxsize=1)
def pipeline() -> Pipeline:
    return Pipeline()


@lru_cache(maxsize=1)
def dispatcher() -> Dispatcher:
    return Dispatcher()


@lru_cache(maxsize=1)
def sweeper() -> Sweeper:
    return Sweeper(pipeline=pipeline())
