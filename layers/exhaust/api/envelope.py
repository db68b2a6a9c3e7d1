"""The response envelope every API answer uses: {id, ver, ts, params{...}, responseCode, result}."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def envelope(
    api_id: str,
    *,
    msgid: str | None = None,
    result: Any = None,
    response_code: str = "OK",
    err: str | None = None,
    errmsg: str | None = None,
) -> dict[str, Any]:
    """Build the envelope. Null fields are left out, as the reference API does."""
    failed = err is not None
    params: dict[str, Any] = {
        "resmsgid": str(uuid.uuid4()),
        "msgid": msgid,
        "status": "failed" if failed else "successful",
        "err": err,
        "errmsg": errmsg,
    }
    body: dict[str, Any] = {
        "id": api_id,
        "ver": "1.0",
        "ts": timestamp(),
        "params": {key: value for key, value in params.items() if value is not None},
        "responseCode": response_code,
    }
    if not failed and result is not None:
        body["result"] = result
    return body
