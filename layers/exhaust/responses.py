"""RawResponse: a service's answer that is not an envelope (a file, a redirect, a page, an empty 204).

It lives outside exhaust.api so that the domain services that deliver files never import the HTTP layer;
exhaust.api.http turns it into a proxy answer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawResponse:
    """A non-envelope answer: a file, a redirect, an HTML page or an empty 204."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def to_proxy(self) -> dict[str, Any]:
        content_type = self.headers.get("Content-Type", "")
        if not self.body or content_type.startswith(("text/", "application/json")):
            return {
                "statusCode": self.status,
                "headers": self.headers,
                "body": self.body.decode("utf-8"),
                "isBase64Encoded": False,
            }
        body = base64.b64encode(self.body).decode("ascii")
        return {"statusCode": self.status, "headers": self.headers, "body": body, "isBase64Encoded": True}
