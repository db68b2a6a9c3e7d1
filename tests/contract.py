"""The contract test: every answer a test receives from the API is checked against the generated OpenAPI document.

Answers are recorded where they leave the service: `call_api` (the in-process invoker of the integration suite),
the local gateway's proxy answers (in this process, and in the `exhaust local` subprocesses of the e2e_local suite,
which append them to ANSWER_LOG), and checked after each test by the `pytest_runtest_call` hook of
tests/conftest.py. An answer of an operation the document has must have a declared status, one of the declared
content types (no body where none is declared) and, for JSON, a body valid against the declared schema.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ANSWER_LOG_VARIABLE = "EXHAUST_CONTRACT_ANSWER_LOG"
ANSWER_LOG = Path(tempfile.gettempdir()) / f"exhaust-contract-answers-{os.getpid()}.jsonl"
# Tests whose function answers are fakes (not the service's) carry this marker; their answers are not checked.
EXEMPT_MARKER = "fake_answers"


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    content_type: str
    text: str | None  # the body, when it is JSON; None for other media types
    empty: bool

    @classmethod
    def from_proxy(cls, method: str, path: str, proxy: dict[str, Any]) -> Answer:
        headers = {str(name).lower(): str(value) for name, value in (proxy.get("headers") or {}).items()}
        content_type = headers.get("content-type", "")
        body = proxy.get("body") or ""
        is_json = media_type(content_type) == "application/json" and not proxy.get("isBase64Encoded")
        return cls(method.upper(), path, int(proxy["statusCode"]), content_type, body if is_json else None, not body)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


@cache
def _document() -> dict[str, Any]:
    from exhaust.api.routes import document

    return document()


@cache
def _validator(path: str, method: str, status: str, media: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = _document()["paths"][path][method]["responses"][status]["content"][media]["schema"]
    # The components at the root resolve the document's "#/components/schemas/..." references.
    return Draft202012Validator({**schema, "components": _document()["components"]})


def violations(answer: Answer) -> list[str]:
    """What is wrong with the answer by the document; nothing for answers outside its operations."""
    from exhaust.api.routes import find_route

    found = find_route(answer.method, answer.path)
    if found is None:
        return []  # no operation: unknown paths (404) and other methods (405) are the gateway's
    route = found[0]
    method = route.method.lower()
    responses = _document()["paths"][route.path][method]["responses"]
    where = f"{answer.method} {answer.path} answered {answer.status}"
    declared = responses.get(str(answer.status))
    if declared is None:
        return [f"{where}: status not declared for {route.method} {route.path} (declared: {', '.join(responses)})"]
    content = declared.get("content") or {}
    if not content:
        return [] if answer.empty else [f"{where}: a body, where the document declares none"]
    media = media_type(answer.content_type)
    if media not in content:
        return [f"{where}: content type '{answer.content_type}' not declared (declared: {', '.join(content)})"]
    if answer.text is None:
        return []
    errors = sorted(
        _validator(route.path, method, str(answer.status), media).iter_errors(json.loads(answer.text)), key=str
    )
    return [
        f"{where}: body does not match the schema at {list(error.absolute_path)}: {error.message}"
        for error in errors[:3]
    ]


class Recorder:
    """The answers received since the last `take()`: recorded in this process, and appended to ANSWER_LOG by others."""

    def __init__(self, log: Path):
        self.log = log
        self.offset = 0
        self.answers: list[Answer] = []
        self.lock = threading.Lock()

    def record(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def take(self) -> list[Answer]:
        with self.lock:
            taken, self.answers = self.answers, []
        if self.log.exists():
            with self.log.open(encoding="utf-8") as lines:
                lines.seek(self.offset)
                taken.extend(Answer(**json.loads(line)) for line in lines if line.strip())
                self.offset = lines.tell()
        return taken


RECORDER = Recorder(ANSWER_LOG)


def record_gateway_answers(sink: Callable[[Answer], None]) -> None:
    """Make every local gateway answer of this process also go to `sink` (before it is sent)."""
    from exhaust_devkit.local.gateway import GatewayHandler

    send = GatewayHandler._send_proxy_answer

    def recorded(self: GatewayHandler, answer: dict[str, Any]) -> None:
        sink(Answer.from_proxy(self.command, unquote(urlsplit(self.path).path), answer))
        send(self, answer)

    setattr(GatewayHandler, "_send_proxy_answer", recorded)


def append_to_log(log: Path) -> Callable[[Answer], None]:
    """A sink writing one JSON line per answer; whole lines under a lock, as the gateway answers in threads."""
    lock = threading.Lock()

    def append(answer: Answer) -> None:
        with lock, log.open("a", encoding="utf-8") as lines:
            lines.write(answer.to_json() + "\n")

    return append
