"""CORS over HTTP through the local gateway: the preflight API Gateway answers too (tests/infra/test_cors_preflight.py
proves the two identical), the headers an allowed page's answers carry, and none for anyone else or by default."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from exhaust.api import cors

from tests.conftest import moto_environment

pytestmark = pytest.mark.xdist_group("local-gateway")
PORTAL, OTHER = "https://portal.example.org", "http://localhost:3000"
SUBMIT = "/api/dataset/v1/request/submit"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Any]:
    from exhaust_devkit.local.gateway import LocalGateway

    with moto_environment({"EXHAUST_CORS_ALLOWED_ORIGINS": f"{PORTAL},{OTHER}"}):
        server = LocalGateway("127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def exchange(server: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    host, port = server.server_address[:2]
    request = urllib.request.Request(f"http://{host}:{port}{path}", method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, dict(answer.headers.items())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items())


@pytest.mark.parametrize("origin", [PORTAL, OTHER])
def test_a_preflight_of_an_allowed_origin_is_answered_with_the_routes_methods_and_headers(gateway, origin):
    status, headers = exchange(gateway, "OPTIONS", SUBMIT, {"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Methods"] == "POST"
    assert headers["Access-Control-Allow-Headers"].split(",") == list(cors.ALLOWED_HEADERS)
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in headers


def test_a_preflight_of_another_origin_names_an_allowed_one_so_the_browser_refuses(gateway):
    status, headers = exchange(gateway, "OPTIONS", SUBMIT, {"Origin": "https://evil.example.com"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == PORTAL


def test_answers_carry_the_origin_only_for_an_allowed_page(gateway):
    status, headers = exchange(gateway, "GET", "/api/health", {"Origin": OTHER})
    assert status == 200
    assert (headers["Access-Control-Allow-Origin"], headers["Vary"]) == (OTHER, "Origin")
    assert headers["Access-Control-Expose-Headers"] == "Retry-After"
    status, headers = exchange(gateway, "GET", "/api/health", {"Origin": "https://evil.example.com"})
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers
    # A handler's refusal too, so that a page can read why.
    status, headers = exchange(gateway, "GET", "/api/export/ui?unknown=1", {"Origin": PORTAL})
    assert status == 400
    assert headers["Access-Control-Allow-Origin"] == PORTAL


def test_the_gateways_own_refusals_carry_no_cors_headers_as_in_api_gateway(gateway):
    # API Gateway's gateway responses (the authorizer's 401, throttling) cannot echo only allowed origins.
    status, headers = exchange(gateway, "GET", "/api/dataset/v1/request/list/t1", {"Origin": PORTAL})
    assert status == 401
    assert "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("setting", ["*", "https://portal.example.org/path", "portal.example.org", "https://a b"])
def test_an_origin_setting_that_is_not_an_origin_is_refused(setting):
    with pytest.raises(ValueError, match="is not an origin"):
        cors.parse_origins(setting)
