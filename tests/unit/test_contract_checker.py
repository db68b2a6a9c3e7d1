"""The contract test's checker (tests/contract.py) reports what contradicts the document, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.contract import Answer, Recorder, violations

JSON_TYPE = "application/json; charset=utf-8"
READ_PATH = "/api/dataset/v1/request/read/tag-1"


def envelope(**extra: Any) -> str:
    body = {"id": "x", "ver": "1.0", "ts": "now", "params": {"resmsgid": "1", "status": "failed"}, "responseCode": "C"}
    return json.dumps({**body, **extra})


def answer(status: int, text: str | None, content_type: str = JSON_TYPE, path: str = READ_PATH) -> Answer:
    return Answer("GET", path, status, content_type, text, empty=not text)


def test_a_declared_error_in_the_envelope_passes() -> None:
    assert violations(answer(404, envelope())) == []


def test_an_undeclared_status_is_reported_with_the_declared_ones() -> None:
    (problem,) = violations(answer(418, envelope()))
    assert "status not declared" in problem
    assert "404" in problem


def test_a_body_off_the_schema_is_reported_with_where() -> None:
    job = {"requestId": "R", "status": "NOT_A_STATUS"}
    problems = violations(answer(200, envelope(result=job)))
    assert problems
    assert all("does not match the schema" in problem for problem in problems)
    assert any("'NOT_A_STATUS'" in problem or "required property" in problem for problem in problems)


def test_an_undeclared_content_type_is_reported() -> None:
    (problem,) = violations(answer(404, "<html></html>", content_type="text/html"))
    assert "content type 'text/html' not declared" in problem


def test_a_body_where_none_is_declared_is_reported() -> None:
    export = "/api/export/csv"
    assert violations(answer(204, None, content_type="", path=export)) == []
    (problem,) = violations(Answer("GET", export, 204, JSON_TYPE, envelope(), empty=False))
    assert "a body, where the document declares none" in problem


def test_answers_outside_the_documents_operations_are_not_judged() -> None:
    assert violations(answer(404, envelope(), path="/no/such/route")) == []
    assert violations(Answer("DELETE", READ_PATH, 405, JSON_TYPE, envelope(), empty=False)) == []


def test_the_recorder_takes_answers_of_this_process_and_of_the_log_once(tmp_path: Path) -> None:
    log = tmp_path / "answers.jsonl"
    recorder = Recorder(log)
    recorder.record(answer(404, envelope()))
    log.write_text(answer(200, None, content_type="text/html", path="/api/docs").to_json() + "\n")
    assert [taken.status for taken in recorder.take()] == [404, 200]
    assert recorder.take() == []
    with log.open("a") as lines:
        lines.write(answer(500, envelope()).to_json() + "\n")
    assert [taken.status for taken in recorder.take()] == [500]
