"""The local gateway: a real HTTP server that answers like API Gateway in front of the same handlers.

Each request becomes an API Gateway REST proxy event; routes come from the shared route table; private routes
run the same authorizer function first; `/cdn/<key>` serves the public bucket as CloudFront would, and `/console`
the browser console's built files (exhaust_devkit.local.console).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from exhaust import aws
from exhaust.api import cors, routes
from exhaust.api.envelope import GATEWAY_API_ID
from exhaust.api.http import error_response
from exhaust.api.operation import Operation
from exhaust.aws_limits import API_GATEWAY_PAYLOAD_MAX_BYTES, LAMBDA_SYNC_RESPONSE_MAX_BYTES, json_size
from exhaust.errors import BadRequest, NotFound, PayloadTooLarge, ServiceError, Unauthorized
from exhaust.observability import logger
from exhaust.settings import get_settings

from exhaust_devkit.local.console import console_file, is_console_path
from exhaust_devkit.local.functions import invoke

AUTHORIZER_FUNCTION = "authorizer"
CDN_PREFIX = "/cdn/"
# A request's head and body must have arrived this long after the connection (or its previous answer) is ready
# for it, however slowly the bytes trickle in: a client that stops sending, sends a header line every few seconds
# (slowloris) or a byte of body at a time, or idles on a keep-alive connection frees its thread then. API Gateway's
# own integration timeout is 29 s.
SOCKET_TIMEOUT_SECONDS = 30
# The listen backlog: socketserver's default of 5 resets connections when a hundred clients connect at once.
LISTEN_BACKLOG = 512
# Connections served at once, each on its own thread; more wait in the backlog, up to CONNECTION_WAIT_SECONDS.
MAX_CONNECTIONS = 128
CONNECTION_WAIT_SECONDS = 5.0
# How often the reaper looks for requests past their deadline.
REAP_EVERY_SECONDS = 0.5
# S3 object keys are at most 1,024 bytes of UTF-8 (Amazon S3 User Guide, "Naming Amazon S3 objects").
S3_KEY_MAX_BYTES = 1024
# What a chunked body's size line may hold (hex digits and extensions): a longer one is not a size line.
CHUNK_LINE_MAX_BYTES = 1024


class MethodNotAllowed(ServiceError):
    status = 405
    response_code = "CLIENT_ERROR"
    code = "METHOD_NOT_ALLOWED"


class RequestTimeout(ServiceError):
    status = 408
    response_code = "CLIENT_ERROR"
    code = "REQUEST_TIMEOUT"


class ServiceUnavailable(ServiceError):
    status = 503
    response_code = "SERVER_ERROR"
    code = "SERVICE_UNAVAILABLE"


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


def read_chunked(stream: Any) -> bytes:
    """A `Transfer-Encoding: chunked` body (RFC 9112, 7.1), trailers skipped; at most API Gateway's payload limit."""
    body = bytearray()
    while True:
        line = stream.readline(CHUNK_LINE_MAX_BYTES + 1)
        if not line.endswith(b"\n"):
            raise BadRequest("body: a chunk's size line is missing or too long (Transfer-Encoding: chunked)")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest("body: a chunk's size is not a hexadecimal number (Transfer-Encoding: chunked)") from None
        if size < 0 or size_text.startswith((b"-", b"+", b"0x", b"0X")):
            raise BadRequest("body: a chunk's size is not a hexadecimal number (Transfer-Encoding: chunked)")
        if not size:
            break
        if len(body) + size > API_GATEWAY_PAYLOAD_MAX_BYTES:
            raise PayloadTooLarge(f"body: must be at most {API_GATEWAY_PAYLOAD_MAX_BYTES} bytes (API Gateway's limit)")
        chunk = stream.read(size)
        if len(chunk) < size or stream.read(2) != b"\r\n":
            raise BadRequest("body: the connection ended inside a chunk (Transfer-Encoding: chunked)")
        body += chunk
    while True:  # trailer fields, up to the empty line
        trailer = stream.readline(CHUNK_LINE_MAX_BYTES + 1)
        if not trailer.endswith(b"\n"):
            raise BadRequest("body: the chunked body does not end with an empty line (Transfer-Encoding: chunked)")
        if trailer in (b"\r\n", b"\n"):
            return bytes(body)


def cdn_key(path: str) -> str:
    """The public object a /cdn/ path names; a key S3 would refuse is the caller's mistake, said so."""
    key = unquote(path[len(CDN_PREFIX) :])
    if not key:
        raise NotFound("cdn key: empty; ask for /cdn/<object key>, as listed by the public dataset API")
    if len(key.encode("utf-8", errors="surrogatepass")) > S3_KEY_MAX_BYTES:
        raise BadRequest(f"cdn key: must be at most {S3_KEY_MAX_BYTES} bytes")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in key):
        raise BadRequest("cdn key: must not hold control characters")
    return key


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
                self._serve_cdn(cdn_key(path))
                return
            if is_console_path(path) and self.command in ("GET", "HEAD"):
                data, console_headers = console_file(unquote(path))
                self._send(200, console_headers, data)
                return
            if self.command == "OPTIONS" and self._answer_preflight(path, headers):
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
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away (or was cut at its deadline): nothing to answer
            logger.info("client disconnected", extra={"path": urlsplit(self.path).path[:200]})
        except Exception:
            logger.exception("local gateway failure")
            self._send_proxy_answer(error_response(GATEWAY_API_ID, ServiceError("Internal error in the gateway")))

    def _answer_preflight(self, path: str, headers: dict[str, str]) -> bool:
        """A CORS preflight of a route's path, answered as API Gateway does (exhaust.api.cors) when origins are
        allowed; without any, OPTIONS is a method like another (405)."""
        allowed = cors.parse_origins(get_settings().cors_allowed_origins)
        if not allowed or not routes.paths_for(path):
            return False
        origin = next((value for key, value in headers.items() if key.lower() == "origin"), None)
        self._send(cors.PREFLIGHT_STATUS, cors.preflight_headers(allowed_methods(path), origin, allowed), b"")
        return True

    def handle_one_request(self) -> None:
        """One request, which must arrive whole within `timeout` seconds (the server's reaper cuts it otherwise)."""
        server = self.server
        if isinstance(server, LocalGateway):
            server.set_deadline(self.connection, time.monotonic() + self.timeout)
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # a client gone mid-request is not the service's error

    def _read_body(self) -> bytes:
        try:
            chunked = self._transfer_coding()
            length = 0 if chunked else content_length(self.headers.get("Content-Length"))
        except ServiceError:
            self.close_connection = True  # the rest of the stream cannot be framed any more
            raise
        try:
            if chunked:
                body = read_chunked(self.rfile)
                self._body_received()
                return body
            if not length:
                self._body_received()
                return b""
            body = self.rfile.read(length)
        except ServiceError:
            self.close_connection = True
            server = self.server
            if isinstance(server, LocalGateway) and server.was_cut(self.connection):
                raise RequestTimeout(f"body: not received within {self.timeout} seconds") from None
            raise
        except (TimeoutError, OSError, ValueError):
            # Cut at the deadline (the reaper shut the socket), or the socket timed out: the client was too slow.
            self.close_connection = True
            raise RequestTimeout(f"body: not received within {self.timeout} seconds") from None
        self._body_received()
        if len(body) < length:
            self.close_connection = True
            server = self.server
            if isinstance(server, LocalGateway) and server.was_cut(self.connection):
                raise RequestTimeout(f"body: not received within {self.timeout} seconds")
            raise BadRequest(f"body: the connection ended after {len(body)} of {length} bytes (Content-Length)")
        return body

    def _transfer_coding(self) -> bool:
        """True for a chunked body; a body framed both ways (a smuggling attempt) or coded otherwise is refused."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is None:
            return False
        if self.headers.get("Content-Length") is not None:
            raise BadRequest("Transfer-Encoding: not allowed together with Content-Length")
        if coding.strip().lower() != "chunked":
            raise BadRequest(
                f"Transfer-Encoding: only chunked is accepted, got '{coding[:40]}'; or send Content-Length"
            )
        return True

    def _body_received(self) -> None:
        server = self.server
        if isinstance(server, LocalGateway):
            server.set_deadline(self.connection, None)

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
    """At most MAX_CONNECTIONS connections at once, each cut when its request is not in by its deadline."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, host: str, port: int):
        # Before binding: a port in use makes the base class call server_close() from its __init__.
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._deadlines: dict[socket.socket, float] = {}
        self._cut: set[socket.socket] = set()
        self._deadlines_lock = threading.Lock()
        self._closed = threading.Event()
        self._shutting_down = threading.Event()
        super().__init__((host, port), GatewayHandler)
        threading.Thread(target=self._reap, name="exhaust-gateway-reaper", daemon=True).start()

    def set_deadline(self, connection: socket.socket, deadline: float | None) -> None:
        with self._deadlines_lock:
            if deadline is None:
                self._deadlines.pop(connection, None)
            else:
                self._deadlines[connection] = deadline

    def _reap(self) -> None:
        """Shut the reading side of the sockets whose request is late: their thread's reads end, it is freed."""
        while not self._closed.wait(REAP_EVERY_SECONDS):
            now = time.monotonic()
            with self._deadlines_lock:
                late = [connection for connection, deadline in self._deadlines.items() if deadline <= now]
                for connection in late:
                    del self._deadlines[connection]
                self._cut.update(late)
            for connection in late:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)  # its reads end; the 408 can still be written

    def was_cut(self, connection: socket.socket) -> bool:
        """True (once) when the reaper cut this connection's request at its deadline."""
        with self._deadlines_lock:
            if connection in self._cut:
                self._cut.discard(connection)
                return True
        return False

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection once a slot is free; a server full for CONNECTION_WAIT_SECONDS answers 503."""
        deadline = time.monotonic() + CONNECTION_WAIT_SECONDS
        while not self._slots.acquire(timeout=REAP_EVERY_SECONDS):
            # A stop does not wait for a slot (serve_forever, which the stop waits for, is waiting here).
            if self._shutting_down.is_set() or time.monotonic() >= deadline:
                self._refuse_busy(request)
                return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.set_deadline(request, None)
            self.was_cut(request)
            self._slots.release()

    def _refuse_busy(self, request: socket.socket) -> None:
        error = ServiceUnavailable("the local gateway is serving its maximum of connections; try again shortly")
        answer = error_response(GATEWAY_API_ID, error)
        data = str(answer["body"]).encode("utf-8")
        head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        head += f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        with contextlib.suppress(OSError):
            request.sendall(head.encode("ascii") + data)
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is routine (no traceback); anything else is logged with its traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logger.info("client disconnected")
            return
        logger.exception("local gateway connection failure")

    def shutdown(self) -> None:
        self._shutting_down.set()
        super().shutdown()

    def server_close(self) -> None:
        self._closed.set()
        super().server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
