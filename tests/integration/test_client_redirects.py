"""The client follows the 303 big answers get, with a GET and no body, as curl -L does."""

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from exhaust_client.client import fetch_file

ZIP_BYTES = b"PK\x05\x06" + b"\x00" * 18


class Redirecting(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, int]] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append(("POST", self.path, length))
        self.send_response(303)
        self.send_header("Location", "/presigned/file.zip?X-Amz-Signature=abc")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.seen.append(("GET", self.path, int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(ZIP_BYTES)))
        self.end_headers()
        self.wfile.write(ZIP_BYTES)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_303_after_a_post_is_followed_with_a_get(server, tmp_path):
    Redirecting.seen.clear()
    request = urllib.request.Request(server + "/v1/datasets/d/r", data=b'{"request": {}}', method="POST")
    target = tmp_path / "days.zip"
    assert fetch_file(request, target) == 200
    assert target.read_bytes() == ZIP_BYTES
    assert Redirecting.seen == [("POST", "/v1/datasets/d/r", 15), ("GET", "/presigned/file.zip?X-Amz-Signature=abc", 0)]
