"""What the stack asks of an account's Lambda quotas: the concurrency it reserves, computed here once.

The stack (infra/) sets each function's reservation from `reserved_concurrency`, docs/deploy.md states its total,
and `exhaust deploy-check` compares it with the account's quota before a deploy (the dev kit's deploy_check); tests
keep the synthesized template, the docs and this table equal.
"""

from __future__ import annotations

from exhaust.aws_limits import LAMBDA_UNRESERVED_CONCURRENCY_MIN

# Function folder -> concurrency reserved for it when the builder's is (a builder reservation of 0 reserves nothing
# for any function, for accounts whose quota is still too low for any reservation).
# finalize and mark_failed end a request (about a second each): they never wait behind the account's other
# functions; the sweeper and the indexer run one at a time (a second run would only repeat the first's work).
FIXED_RESERVATIONS: dict[str, int] = {"finalize": 5, "mark_failed": 5, "sweeper": 1, "indexer": 1}
BUILDER = "builder"


def reserved_concurrency(builder_reserved_concurrency: int) -> dict[str, int]:
    """Function folder -> its reserved concurrency; empty when the builder reserves nothing."""
    if builder_reserved_concurrency <= 0:
        return {}
    return {BUILDER: builder_reserved_concurrency, **FIXED_RESERVATIONS}


def concurrency_quota_needed(reservations: dict[str, int]) -> int:
    """The account concurrency quota the reservations need: their total plus what Lambda keeps unreserved."""
    return sum(reservations.values()) + LAMBDA_UNRESERVED_CONCURRENCY_MIN
