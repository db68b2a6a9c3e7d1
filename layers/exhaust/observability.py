"""Powertools logger, tracer and metrics shared by every function (kept apart from handlers).

The tracer is lazy: Powertools' Tracer imports the X-Ray SDK, which imports botocore and patches it (about
0.35 s), so it is created at the first traced invocation instead of at import. A handler's import then costs
its own modules only, and functions that never trace (the authorizer, the docs pages) never pay for it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from exhaust import resources

if TYPE_CHECKING:
    from aws_lambda_powertools.tracing import Tracer

SERVICE = "exhaust"
Handler = TypeVar("Handler", bound=Callable[..., Any])


class LazyTracer:
    """`@tracer.capture_lambda_handler` as Powertools offers it, with the Tracer made on the first call."""

    def __init__(self, service: str):
        self.service = service
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools.tracing import Tracer

            self._tracer = Tracer(service=self.service)
        return self._tracer

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        traced: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def trace_then_handle(event: Any, context: Any) -> Any:
            if not traced:
                traced.append(self.tracer.capture_lambda_handler(handler))
            return traced[0](event, context)

        return trace_then_handle  # type: ignore[return-value]


logger = Logger(service=SERVICE)
tracer = LazyTracer(service=SERVICE)
METRICS_NAMESPACE = resources.FUNCTION_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]

# The operator's metrics (CloudWatch EMF, namespace DataExhaust, dimension dataset). Each is written as it
# happens, as its own EMF document with its own dataset: one invocation may serve requests of several datasets
# (the sweeper retries callbacks and ends lost requests of any), and a shared set of dimensions flushed at the
# end of the handler would file them all under the last one; nor does a handler need a decorator to emit.
REQUESTS_SUBMITTED = "RequestsSubmitted"
REQUESTS_SUCCEEDED = "RequestsSucceeded"
REQUESTS_FAILED = "RequestsFailed"
ROWS_BUILT = "RowsBuilt"
BYTES_BUILT = "BytesBuilt"
BUILD_SECONDS = "BuildSeconds"
CALLBACK_FAILURES = "CallbackFailures"


def emit(name: str, unit: MetricUnit, value: float, dataset: str) -> None:
    with single_metric(
        name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE, default_dimensions={"service": SERVICE}
    ) as metric:
        metric.add_dimension(name="dataset", value=dataset)


def count(name: str, dataset: str) -> None:
    """One more of `name` for this dataset."""
    emit(name, MetricUnit.Count, 1, dataset)


def record_build(dataset: str, rows: int, size: int, seconds: float) -> None:
    """What one batch build produced and how long it took."""
    emit(ROWS_BUILT, MetricUnit.Count, rows, dataset)
    emit(BYTES_BUILT, MetricUnit.Bytes, size, dataset)
    emit(BUILD_SECONDS, MetricUnit.Seconds, seconds, dataset)


# scheme://user:password@host -> scheme://***@host, and the `password@host` tail urllib's errors show alone.
_URL_CREDENTIALS = re.compile(r"(?:(?<=//)|(?<=\s)|(?<=^)|(?<=['\"(]))[^\s/@'\"()]+@")


def redact_url_credentials(text: str) -> str:
    """`text` with the userinfo of any URL in it (user:password@) replaced by ***@: safe to log."""
    return _URL_CREDENTIALS.sub("***@", text)
