"""`make smoke` (exhaust_devkit.smoke) against a stand-in of a deployed stack on 127.0.0.1: what it checks, refuses."""

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import pyzipper
from exhaust_devkit import smoke


def _zip(encrypted: bool) -> bytes:
    buffer = io.BytesIO()
    if encrypted:
        with pyzipper.AESZipFile(buffer, "w", encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(b"secret")
            archive.writestr("batch_progress_20261123.csv", "a,b\n1,2\n")
    else:
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("batch_progress_20261123.csv", "a,b\n1,2\n")
    return buffer.getvalue()


class FakeStack:
    """Answers like API Gateway + the service: envelopes, 401 without a token, a request that ends `final`."""

    def __init__(self, final="SUCCESS", encrypted=True):
        self.final = final
        self.archive = _zip(encrypted)
        self.reads = 0
        self.submitted = None
        stack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body, content_type="application/json"):
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _envelope(self, status, result=None, err=None):
                params = {"resmsgid": "x", "status": "failed" if err else "successful"}
                if err:
                    params.update(err=err, errmsg=err)
                body = {"id": "api", "ver": "1.0", "ts": "t", "params": params, "responseCode": "OK"}
                if result is not None:
                    body["result"] = result
                self._answer(status, body)

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/prod/api/health":
                    return self._envelope(200, {"healthy": True})
                if url.path == "/files/first.zip":
                    assert "Authorization" not in self.headers  # presigned links carry their own credentials
                    return self._answer(200, stack.archive, "application/zip")
                if url.path.startswith("/prod/api/dataset/v1/request/read/"):
                    assert self.headers["Authorization"] == "Bearer exh_token"
                    assert parse_qs(url.query)["requestId"] == ["req-1"]
                    stack.reads += 1
                    status = "PROCESSING" if stack.reads < 3 else stack.final
                    result = {"requestId": "req-1", "tag": "t", "status": status, "statusMessage": None}
                    if status == "SUCCESS":
                        result["downloadUrls"] = [f"http://{self.headers['Host']}/files/first.zip"]
                    if status == "FAILED":
                        result["statusMessage"] = "No data found"
                    return self._envelope(200, result)
                return self._envelope(404, err="NOT_FOUND")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != "Bearer exh_token":
                    return self._envelope(401, err="UNAUTHORIZED")
                assert self.headers["X-Channel-Id"] == "channel-a"
                stack.submitted = body
                tag = body["request"]["tag"]
                return self._envelope(200, {"requestId": "req-1", "tag": tag, "status": "SUBMITTED"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_port}/prod"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _smoke(stack, lines):
    return smoke.Smoke(
        base_url=stack.base_url,
        token="exh_token",
        channel="channel-a",
        batch_id="0131000245281587206",
        interval_seconds=0,
        timeout_seconds=30,
        say=lines.append,
        sleep=lambda _: None,
    )


def test_smoke_submits_waits_for_success_and_downloads_an_encrypted_zip():
    lines: list[str] = []
    with FakeStack() as stack:
        content = _smoke(stack, lines).run()
    assert content == stack.archive
    request = stack.submitted["request"]
    assert request["dataset"] == "progress-exhaust"
    assert request["datasetConfig"] == {"batchId": "0131000245281587206"}
    assert len(request["encryptionKey"]) >= 12
    assert stack.reads == 3
    assert not any(request["encryptionKey"] in line for line in lines)  # the key is never printed


@pytest.mark.parametrize(
    ("final", "encrypted", "reason"),
    [("FAILED", True, "No data found"), ("SUCCESS", False, "unencrypted entry")],
)
def test_smoke_fails_on_a_failed_request_or_an_unencrypted_file(final, encrypted, reason):
    with FakeStack(final=final, encrypted=encrypted) as stack, pytest.raises(smoke.SmokeFailure, match=reason):
        _smoke(stack, []).run()


def test_smoke_command_exits_non_zero_when_the_stack_is_unreachable(capsys):
    code = smoke.main(["--base-url", "http://127.0.0.1:9/prod", "--token", "t", "--channel", "c", "--batch-id", "b"])
    assert code == 1
    assert "FAIL" in capsys.readouterr().err
