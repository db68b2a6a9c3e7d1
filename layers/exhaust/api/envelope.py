"""The response envelope every JSON answer uses: {id, ver, ts, params{...}, responseCode, result}.

One generic model, `Envelope[Result]`: answers are built from it, and the OpenAPI document's answer schemas are
its schema for each operation's result model (`Envelope[None]` for refusals, which carry no result).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

Result = TypeVar("Result")
VERSION = "1.0"
# The API id of the answers the gateway gives itself (unknown paths, other methods, its own refusals).
GATEWAY_API_ID = "api.gateway"


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ResponseParams(BaseModel):
    resmsgid: str = Field(description="This answer's own id")
    msgid: str | None = Field(default=None, description="The request's params.msgid, echoed")
    status: Literal["successful", "failed"]
    err: str | None = Field(default=None, description="Error code, when failed")
    errmsg: str | None = Field(default=None, description="What was wrong: the field and the rule, when failed")


class Envelope(BaseModel, Generic[Result]):
    """An answer of operation `id`; null fields are left out, as the reference API does."""

    id: str = Field(description="The operation's API id")
    ver: str
    ts: str = Field(description="When it was answered, ISO 8601 UTC")
    params: ResponseParams
    responseCode: str
    # Left out when there is none (a refusal): the document shows no null for it, and no result at all in
    # Envelope[None], the refusals' schema.
    result: Result | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_without_default)


def envelope(
    api_id: str,
    *,
    msgid: str | None = None,
    result: Any = None,
    response_code: str = "OK",
    err: str | None = None,
    errmsg: str | None = None,
) -> dict[str, Any]:
    """The envelope as JSON-ready data; `result` (already JSON-ready, nulls as its model dumps them) only on success."""
    failed = err is not None
    params = ResponseParams(
        resmsgid=str(uuid.uuid4()), msgid=msgid, status="failed" if failed else "successful", err=err, errmsg=errmsg
    )
    answer = Envelope[None](id=api_id, ver=VERSION, ts=timestamp(), params=params, responseCode=response_code)
    body = answer.model_dump(mode="json", exclude_none=True)
    if not failed and result is not None:
        body["result"] = result
    return body
