"""Errors the workflow's Retry and Catch clauses know by name (Step Functions sees the exception class name)."""

from __future__ import annotations

# The sweeper ends an attempt with this error when its execution ended (or never started) without finishing the
# request: the infrastructure's failure, not the request's.
EXECUTION_LOST = "States.ExecutionLost"


class PermanentFailure(Exception):
    """The request cannot succeed whatever the attempts (no data, invalid request): FAILED, never retried."""


class TransientFailure(Exception):
    """Throttling, timeouts, a dependency briefly away: the state is retried with backoff."""


class StaleExecution(Exception):
    """The execution no longer owns the request (a newer attempt or a re-submit took it over): change nothing."""
