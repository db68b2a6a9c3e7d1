"""The local gateway: a real HTTP server that answers like API Gateway in front of the same handlers.

Each request becomes an API Gateway REST proxy event; routes come from the shared route table; private routes
run the same authorizer function first; `/cdn/<key>` serves the public bucket as CloudFront would.
"""

from __future__ import annotations

import base64
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from exhaust import aws
from exhaust.api import routes
from exhaust.api.envelope import GATEWAY_API_ID
from exhaust.api.http import error_response
from exhaust.api.operation import Operation
from exhaust.aws_limits import API_GATEWAY_PAYLOAD_MAX_BYTES, LAMBDA_SYNC_RESPONSE_MAX_BYTES, json_size
from exhaust.errors import BadRequest, NotFound, PayloadTooLarge, ServiceError, Unauthorized
from exhaust.local.functions import invoke
from exhaust.observability import logger
from exhaust.settings import get_settings

AUTHORIZER_FUNCTION = "authorizer"
CDN_PREFIX = "/cdn/"
# A client that stops sending (a body that never arrives, an idle keep-alive) frees its thread after this long;
# API Gateway's own integration timeout is 29 s.
SOCKET_TIMEOUT_SECONDS = 30
# The listen backlog: socketserver's default of 5 resets connections when a hundred clients connect at once.
LISTEN_BACKLOG = 512


class MethodNotAllowed(ServiceError):
    status = 405
    response_code = "CLIENT_ERROR"
    code = "METHOD_NOT_ALLOWED"


class RequestTimeout(ServiceError):
    status = 408
    response_code = "CLIENT_ERROR"
    code = "REQUEST_TIMEOUT"


class BadGateway(ServiceError):
    status = 502
    response_code = "SERVER_ERROR"
    code = "BAD_GATEWAY"


def within_response_limit(function: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The function's answer, or the 502 API Gateway gives when Lambda refuses a response over its sync limit."""
    size = json_size(answer)
    if size <= LAMBDA_SYNC_RESPONSE_MAX_BYTES:
        return answer
    logger.error(
        "function response over Lambda's synchronous response limit",
        extra={"function": function, "bytes": size, "limit": LAMBDA_SYNC_RESPONSE_MAX_BYTES},
    )
    return error_response(GATEWAY_API_ID, BadGateway("Internal server error: the function's response was too large"))


class NotImplementedMethod(ServiceError):
    status = 501
    response_code = "SERVER_ERROR"
    code = "NOT_IMPLEMENTED"


def allowed_methods(path: str) -> list[str]:
    return sorted({route.method for route in routes.paths_for(path)})


def method_not_allowed(method: str, path: str) -> MethodNotAllowed:
    allowed = allowed_methods(path)
    return MethodNotAllowed(
        f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}", headers={"Allow": ", ".join(allowed)}
    )


def content_length(value: str | None) -> int:
    """The body's length from its header: absent is 0; anything but a number from 0 to the limit is refused."""
    if value is None or not value.strip():
        return 0
    if not value.strip().isdigit():
        raise BadRequest(f"Content-Length: must be a non-negative integer, got '{value[:20]}'")
    length = int(value)
    if length > API_GATEWAY_PAYLOAD_MAX_BYTES:
        raise PayloadTooLarge(
            f"body: must be at most {API_GATEWAY_PAYLOAD_MAX_BYTES} bytes (API Gateway's limit), got {length}"
        )
    return length


def build_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    route: Operation,
    params: dict[str, str],
) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    multi_query = parse_qs(parts.query, keep_blank_values=True)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text_body, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": route.path,
        "path": unquote(parts.path),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {k: unquote(v) for k, v in params.items()} or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": parts.path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text_body,
        "isBase64Encoded": encoded,
    }


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    """Run the REQUEST authorizer as API Gateway does: an exception is a 401, a Deny policy a 403."""
    method_arn = f"arn:aws:execute-api:us-east-1:000000000000:local/local/{event['httpMethod']}{event['resource']}"
    authorizer_event = {
        "type": "REQUEST",
        "methodArn": method_arn,
        **{key: event[key] for key in ("resource", "path", "httpMethod", "headers", "queryStringParameters")},
        "pathParameters": event["pathParameters"],
        "requestContext": event["requestContext"],
    }
    try:
        answer = invoke(AUTHORIZER_FUNCTION, authorizer_event)
    except Exception:
        raise Unauthorized("Authorization: a valid Bearer token is required") from None
    statements = answer.get("policyDocument", {}).get("Statement", [])
    if not statements or any(statement.get("Effect") != "Allow" for statement in statements):
        raise Unauthorized("Authorization: a valid Bearer token is required")
    return {"principalId": answer.get("principalId"), **(answer.get("context") or {})}


class GatewayHandler(BaseHTTPRequestHandler):
    server_version = "exhaust-local-gateway"
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("gateway " + format % args)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
            headers = {key: value for key, value in self.headers.items()}
            path = urlsplit(self.path).path
            if path.startswith(CDN_PREFIX) and self.command in ("GET", "HEAD"):
                self._serve_cdn(unquote(path[len(CDN_PREFIX) :]))
                return
            found = routes.find_route(self.command, path)
            if found is None:
                if routes.paths_for(path):
                    raise method_not_allowed(self.command, path)
                raise NotFound(f"No route for {self.command} {path}")
            route, params = found
            event = build_event(self.command, self.path, headers, body, route, params)
            if route.auth == "token":
                event["requestContext"]["authorizer"] = authorize(event)
            self._send_proxy_answer(within_response_limit(route.function, invoke(route.function, event)))
        except ServiceError as error:
            self._send_proxy_answer(error_response(GATEWAY_API_ID, error))
        except Exception:
            logger.exception("local gateway failure")
            self._send_proxy_answer(error_response(GATEWAY_API_ID, ServiceError("Internal error in the gateway")))

    def _read_body(self) -> bytes:
        try:
            length = content_length(self.headers.get("Content-Length"))
        except ServiceError:
            self.close_connection = True  # the rest of the stream cannot be framed any more
            raise
        if not length:
            return b""
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise RequestTimeout(f"body: not received within {SOCKET_TIMEOUT_SECONDS} seconds") from None
        if len(body) < length:
            self.close_connection = True
            raise BadRequest(f"body: the connection ended after {len(body)} of {length} bytes (Content-Length)")
        return body

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server answers itself (bad request lines, unknown methods, huge headers), in the envelope."""
        self.close_connection = True
        # A line http.server could not parse leaves it at HTTP/0.9, which would suppress the status and headers.
        self.request_version = "HTTP/1.1"
        path = urlsplit(self.path).path if getattr(self, "path", None) else ""
        method = getattr(self, "command", None) or "?"
        error: ServiceError
        if code == 501 and path and allowed_methods(path):
            error = method_not_allowed(method, path)
        elif code == 501:
            error = NotImplementedMethod(f"{method} is not a method this API implements")
        else:
            error = BadRequest(message or "malformed HTTP request")
            error.status = code if 400 <= code < 500 else 400
        answer = error_response(GATEWAY_API_ID, error)
        data = str(answer["body"]).encode("utf-8")
        self.send_response(error.status)
        for key, value in {**answer["headers"], "Connection": "close"}.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def _serve_cdn(self, key: str) -> None:
        s3 = aws.client("s3")
        try:
            obj = s3.get_object(Bucket=get_settings().public_bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            raise NotFound(f"No public object {key}") from None
        data = obj["Body"].read()
        self._send(200, {"Content-Type": obj.get("ContentType", "application/octet-stream")}, data)

    def _send_proxy_answer(self, answer: dict[str, Any]) -> None:
        raw = answer.get("body") or ""
        data = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode("utf-8")
        headers = dict(answer.get("headers") or {})
        for key, values in (answer.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(values)
        self._send(int(answer.get("statusCode", 200)), headers, data)

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class LocalGateway(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, host: str, port: int):
        super().__init__((host, port), GatewayHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
