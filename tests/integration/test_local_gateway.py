"""The local gateway as HTTP clients meet it (issue 12 item 9): timeouts, load, malformed HTTP, content types."""

import json
import re
import socket
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest

from tests.conftest import moto_environment

pytestmark = pytest.mark.xdist_group("local-gateway")


@pytest.fixture(scope="module")
def gateway():
    from exhaust.local.gateway import GatewayHandler, LocalGateway

    with moto_environment(), pytest.MonkeyPatch.context() as patch:
        # A short socket timeout, so that the test of a body that never comes does not wait 30 s.
        patch.setattr(GatewayHandler, "timeout", 2)
        server = LocalGateway("127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def raw_exchange(server, request: bytes, read_timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the gateway closes the connection after errors)."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=read_timeout) as connection:
        connection.sendall(request)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            lengths = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if lengths and len(body) >= int(lengths[0].split(b":")[1]):
                break
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def envelope_error(headers: dict[str, str], body: bytes) -> str:
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["params"]["status"] == "failed"
    return answer["params"]["errmsg"]


def test_a_body_that_never_arrives_is_answered_408_and_frees_the_thread(gateway):
    request = b"POST /api/dataset/v1/request/search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    status, headers, body = raw_exchange(gateway, request)
    assert status == 408
    assert "body" in envelope_error(headers, body)


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "99999999999"])
def test_a_malformed_content_length_is_a_4xx_in_the_envelope(gateway, length):
    request = f"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
    status, headers, body = raw_exchange(gateway, request)
    assert status in (400, 413)
    assert "Content-Length" in envelope_error(headers, body) or status == 413


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "PROPFIND"])
def test_an_unknown_method_on_a_route_is_a_405_listing_the_allowed_ones(gateway, method):
    status, headers, body = raw_exchange(gateway, f"{method} /api/health HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 405
    assert headers["allow"] == "GET"
    assert "allowed: GET" in envelope_error(headers, body)


def test_an_unknown_method_elsewhere_is_a_501_in_the_envelope(gateway):
    status, headers, body = raw_exchange(gateway, b"TRACE /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 501
    assert "TRACE" in envelope_error(headers, body)


def test_a_known_method_not_of_the_route_is_a_405_with_allow(gateway):
    status, headers, body = raw_exchange(gateway, b"DELETE /api/dataset/v1/request/submit HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405
    assert headers["allow"] == "POST"
    assert "allowed: POST" in envelope_error(headers, body)


def test_a_garbled_request_line_is_a_400_in_the_envelope(gateway):
    status, headers, body = raw_exchange(gateway, b"\x16\x03\x01 garbage\r\n\r\n")
    assert status == 400
    envelope_error(headers, body)


def test_one_hundred_concurrent_clients_get_answers_and_no_resets(gateway):
    url = f"http://127.0.0.1:{gateway.server_address[1]}/api/health"
    start = threading.Barrier(100)

    def call(_):
        start.wait()
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status

    with ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(call, range(100)))
    assert statuses == [200] * 100


def test_the_docs_page_answers_the_content_type_the_document_gives(gateway):
    base = f"http://127.0.0.1:{gateway.server_address[1]}"
    with urllib.request.urlopen(f"{base}/api/openapi.json", timeout=30) as answer:
        document = json.loads(answer.read())
    documented = document["paths"]["/api/docs"]["get"]["responses"]["200"]["content"]
    with urllib.request.urlopen(f"{base}/api/docs", timeout=30) as answer:
        served = answer.headers["Content-Type"].split(";")[0]
    assert list(documented) == [served] == ["text/html"]


def test_an_unknown_query_parameter_over_http_is_a_400(gateway):
    url = f"http://127.0.0.1:{gateway.server_address[1]}/api/export/csv?type=sensor"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=30)
    assert refused.value.code == 400
    assert "types" in json.loads(refused.value.read())["params"]["errmsg"]


class LinkedAssets(HTMLParser):
    """Every URL a page makes the browser fetch: script src, stylesheet href, img src, CSS url() outside data:."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._inside = ""

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(found[name])
        self._inside = tag

    def handle_endtag(self, tag):
        self._inside = ""

    def handle_data(self, data):
        if self._inside == "script":
            self.inline_scripts.append(data)
        if self._inside == "style":
            found = re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.urls.extend(url for url in found if not url.startswith("data:"))


@pytest.mark.parametrize("page", ["/api/docs", "/api/export/ui"])
def test_the_swagger_pages_need_no_network(gateway, page):
    base = f"http://127.0.0.1:{gateway.server_address[1]}"
    with urllib.request.urlopen(f"{base}{page}", timeout=30) as answer:
        html = answer.read().decode("utf-8")
    parsed = LinkedAssets()
    parsed.feed(html)
    # Nothing to fetch from elsewhere (a public CDN left the pages blank offline): swagger-ui comes inlined.
    assert parsed.urls == []
    assert any("SwaggerUIBundle" in script and len(script) > 1_000_000 for script in parsed.inline_scripts)
    assert any("SwaggerUIBundle({" in script for script in parsed.inline_scripts)
