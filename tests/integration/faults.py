"""Fault injection through our own AWS adapters: chosen calls of the cached boto3 clients fail as AWS answers them.

The failure is injected on botocore's `before-call` hook, so it is what our code sees once boto3's own retries
have given up (an outage longer than a blip): a ClientError with the service's error code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from exhaust import aws


@dataclass
class Fault:
    operation: str
    code: str
    status: int
    remaining: int | None  # None: until cleared
    hits: int = 0


@dataclass
class AwsFaults:
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hooked: set[int] = field(default_factory=set)

    def fail(self, service: str, operation: str, code: str, *, times: int | None = 1, status: int = 503) -> Fault:
        """Make the next `times` calls of `operation` (e.g. "PutObject") on `service` fail with `code`."""
        client = aws.resource("dynamodb").meta.client if service == "dynamodb" else aws.client(service)
        if id(client) not in self._hooked:
            client.meta.events.register("before-call", self._before_call)
            self._hooked.add(id(client))
        fault = Fault(operation, code, status, times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self, fault: Fault) -> None:
        with self._lock:
            fault.remaining = 0

    def _before_call(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        with self._lock:
            fault = next(
                (f for f in self.faults if f.operation == model.name and (f.remaining is None or f.remaining > 0)),
                None,
            )
            if fault is None:
                return None
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
        response = AWSResponse(url="https://injected.fault", status_code=fault.status, headers=HTTPHeaders(), raw=None)
        parsed = {
            "Error": {"Code": fault.code, "Message": f"injected {fault.code}"},
            "ResponseMetadata": {"HTTPStatusCode": fault.status},
        }
        return response, parsed
