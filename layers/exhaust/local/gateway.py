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
from exhaust.api.http import error_response
from exhaust.errors import NotFound, ServiceError, Unauthorized
from exhaust.local.functions import invoke
from exhaust.observability import logger
from exhaust.settings import get_settings

GATEWAY_API_ID = "api.gateway"
AUTHORIZER_FUNCTION = "authorizer"
CDN_PREFIX = "/cdn/"


class MethodNotAllowed(ServiceError):
    status = 405
    response_code = "CLIENT_ERROR"
    code = "METHOD_NOT_ALLOWED"


def build_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    route: routes.Route,
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

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("gateway " + format % args)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items()}
        path = urlsplit(self.path).path
        try:
            if path.startswith(CDN_PREFIX) and self.command in ("GET", "HEAD"):
                self._serve_cdn(unquote(path[len(CDN_PREFIX) :]))
                return
            found = routes.find_route(self.command, path)
            if found is None:
                if routes.paths_for(path):
                    raise MethodNotAllowed(f"{self.command} is not allowed on {path}")
                raise NotFound(f"No route for {self.command} {path}")
            route, params = found
            event = build_event(self.command, self.path, headers, body, route, params)
            if route.auth == "token":
                event["requestContext"]["authorizer"] = authorize(event)
            self._send_proxy_answer(invoke(route.function, event))
        except ServiceError as error:
            self._send_proxy_answer(error_response(GATEWAY_API_ID, error))
        except Exception:
            logger.exception("local gateway failure")
            self._send_proxy_answer(error_response(GATEWAY_API_ID, ServiceError("Internal error in the gateway")))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

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

    def __init__(self, host: str, port: int):
        super().__init__((host, port), GatewayHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
