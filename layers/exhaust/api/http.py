"""API Gateway REST proxy events in, envelope answers out.

`answer` is the one place where typed errors become HTTP answers: an operation (exhaust.api.operation) returns
a result (or a RawResponse for files and redirects) and raises ServiceError subclasses; anything else is logged
and answered as a 500 without details. It wraps all of a request's work, reading the event and the body included.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from exhaust import safe_json
from exhaust.api import cors
from exhaust.api.envelope import envelope
from exhaust.errors import BadRequest, PayloadTooLarge, ServiceError, Unauthorized
from exhaust.identifiers import IDENTIFIER_RULE, is_identifier, shown
from exhaust.observability import logger
from exhaust.principal import Principal
from exhaust.responses import RawResponse
from exhaust.validation import describe_validation_error

MAX_BODY_BYTES = 256 * 1024
# More values of one query parameter than any filter needs (?types=a&types=b..., or a,b,...).
MAX_QUERY_VALUES = 100
__all__ = ["ApiRequest", "RawResponse", "answer", "describe_validation_error", "json_response"]
_UNPARSED = object()
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@dataclass
class ApiRequest:
    """The parts of an API Gateway proxy event a handler needs, with headers looked up case-insensitively."""

    method: str
    path: str
    path_params: dict[str, str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    authorizer: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    # The caller's address as API Gateway saw it (requestContext.identity.sourceIp).
    source_ip: str = ""
    _document: Any = field(default=_UNPARSED, repr=False)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ApiRequest:
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        query: dict[str, list[str]] = {}
        multi = event.get("multiValueQueryStringParameters") or {}
        single = event.get("queryStringParameters") or {}
        for key in set(multi) | set(single):
            query[key] = [str(v) for v in (multi.get(key) or [single[key]])]
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw)
            except binascii.Error:
                raise BadRequest("body: isBase64Encoded is set but the body is not base64") from None
        else:
            body = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else bytes(raw)
        context = event.get("requestContext") or {}
        return cls(
            method=str(event.get("httpMethod", "GET")).upper(),
            path=str(event.get("path", "")),
            path_params={k: str(v) for k, v in (event.get("pathParameters") or {}).items()},
            query=query,
            headers=headers,
            body=body,
            authorizer=dict(context.get("authorizer") or {}),
            request_id=str(context.get("requestId", "")),
            source_ip=str((context.get("identity") or {}).get("sourceIp") or ""),
        )

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return value.strip() if value is not None and value.strip() else None

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def query_values(self, name: str) -> list[str]:
        """Repeated (?a=1&a=2) and comma-separated (?a=1,2) values alike."""
        return [part.strip() for value in self.query.get(name, []) for part in value.split(",") if part.strip()]

    def document(self) -> Any:
        """The body as parsed JSON (parsed once), or a 400/413 that says what is wrong with it."""
        if self._document is _UNPARSED:
            try:
                self._document = self._parse()
            except ServiceError as refused:
                self._document = refused  # msgid() and the handler meet the same refusal, from one parse
        if isinstance(self._document, ServiceError):
            raise self._document
        return self._document

    def _parse(self) -> Any:
        if len(self.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"body: must be at most {MAX_BODY_BYTES} bytes, got {len(self.body)}")
        if not self.body.strip():
            raise BadRequest("body: must be a JSON object, got an empty body")
        try:
            return safe_json.loads(self.body)
        except safe_json.RefusedJson as refused:
            raise BadRequest(refused.message) from None

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object, or a 400/413 that says what is wrong with it."""
        value = self.document()
        if not isinstance(value, dict):
            raise BadRequest("body: must be a JSON object")
        return value

    def msgid(self) -> str | None:
        """The caller's params.msgid, echoed in the answer; None when the body has none or is not usable JSON."""
        if not self.body.strip():
            return None
        try:
            document = self.document()
        except ServiceError:
            return None
        params = document.get("params") if isinstance(document, dict) else None
        msgid = params.get("msgid") if isinstance(params, dict) else None
        # Only a msgid the body's rules accept is echoed (a string; another type is refused with the body).
        return msgid[:256] if isinstance(msgid, str) else None

    @property
    def principal(self) -> Principal:
        if not self.authorizer.get("credentialId"):
            raise Unauthorized("Authorization: a valid Bearer token is required")
        return Principal.from_authorizer_context(self.authorizer)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def error_response(api_id: str, error: ServiceError, msgid: str | None = None) -> dict[str, Any]:
    body = envelope(api_id, msgid=msgid, response_code=error.response_code, err=error.code, errmsg=error.message)
    return json_response(error.status, body, error.headers)


def with_cors(answer: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The answer, with the CORS headers a page of an allowed origin needs (exhaust.api.cors)."""
    from exhaust.settings import get_settings

    origin = next((str(v) for k, v in (event.get("headers") or {}).items() if str(k).lower() == "origin"), None)
    extra = cors.response_headers(origin, cors.parse_origins(get_settings().cors_allowed_origins))
    if extra:
        answer["headers"] = {**(answer.get("headers") or {}), **extra}
    return answer


def check_shared_inputs(request: ApiRequest, accepted: tuple[str, ...]) -> None:
    """What every operation refuses alike: unknown or over-repeated query parameters, odd path parameters."""
    unknown = sorted(set(request.query) - set(accepted))
    if unknown:
        allowed = f"accepted: {', '.join(accepted)}" if accepted else "accepted: none (this route takes no query)"
        raise BadRequest(f"{shown(unknown[0])}: unknown query parameter; {allowed}")
    for name, values in request.query.items():
        if len(values) > MAX_QUERY_VALUES or len(request.query_values(name)) > MAX_QUERY_VALUES:
            raise BadRequest(f"{name}: at most {MAX_QUERY_VALUES} values")
    for name, value in request.path_params.items():
        if not is_identifier(value):
            raise BadRequest(f"{name}: '{shown(value)}' is not valid: {IDENTIFIER_RULE}")


def answer(api_id: str, event: dict[str, Any], work: Callable[[ApiRequest], Any]) -> dict[str, Any]:
    """The proxy answer of `work(request)`: its JSON-ready result in the envelope, or a RawResponse as it is; with
    the CORS headers a page of an allowed origin needs.

    Typed errors become their status in the envelope; anything else is logged and answered as a 500 without details.
    """
    return with_cors(_answer(api_id, event, work), event)


def _answer(api_id: str, event: dict[str, Any], work: Callable[[ApiRequest], Any]) -> dict[str, Any]:
    request: ApiRequest | None = None
    try:
        request = ApiRequest.from_event(event)
        result = work(request)
        if isinstance(result, RawResponse):
            return result.to_proxy()
        return json_response(200, envelope(api_id, msgid=request.msgid(), result=result))
    except ServiceError as error:
        if error.status >= 500:
            logger.exception("request failed", extra={"api_id": api_id})
        else:
            logger.info("request refused", extra={"api_id": api_id, "status": error.status})
        return error_response(api_id, error, request.msgid() if request else None)
    except ValidationError as error:
        refused = BadRequest(describe_validation_error(error))
        return error_response(api_id, refused, request.msgid() if request else None)
    except Exception:
        logger.exception("unexpected error", extra={"api_id": api_id})
        internal = ServiceError("Internal error; it has been logged")
        return error_response(api_id, internal, request.msgid() if request else None)
