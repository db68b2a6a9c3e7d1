"""Callbacks on real sockets (issue 28): never to an address inside the network, never a redirect followed, and a
partner's endpoint that never answers holds neither the API, nor the pipeline, nor another channel's callbacks."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exhaust.pipeline import notify
from exhaust.pipeline.notify import SIGNATURE_HEADER, CheckedPoster, Delivery, Notifier, verify_signature
from exhaust.settings import RuntimeSettings, get_settings

from tests.conftest import call_api, load_event, moto_environment, set_query

SECRET = "callback-test-secret"
TAG = "callbacks"


class Receiver:
    """A server on 127.0.0.1 (https with `tls`, a certificate and its key) that records what it is sent and answers
    with `status` (and `location`)."""

    def __init__(self, tls: tuple[Path, Path] | None, status: int = 200, location: str | None = None):
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((self.path, dict(self.headers), body))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    certificate, key = folder / "receiver.pem", folder / "receiver.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate, key


@pytest.fixture
def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    return context


def test_a_redirect_is_never_followed_and_counts_as_a_failed_delivery(certificate, trusting) -> None:
    """Issue 28: a callback answering 302 to the metadata path made the service GET it, signature included."""
    target = Receiver(None)  # http: what the redirect points at
    redirecting = Receiver(
        certificate, status=302, location=f"http://127.0.0.1:{target.port}/latest/meta-data/iam/security-credentials/"
    )
    try:
        url = f"https://127.0.0.1:{redirecting.port}/hook"
        settings = RuntimeSettings(
            callback_secret=SECRET, callback_test_receivers=f"https://127.0.0.1:{redirecting.port}"
        )
        notifier = Notifier(
            settings=settings, post=CheckedPoster(settings.outbound_policy(), trusting), sleep=lambda _: None
        )
        assert notifier.deliver_callback(url, {"requestId": "R1"}) == Delivery.FAILED
        assert len(redirecting.received) == notify.CALLBACK_ATTEMPTS
        path, headers, body = redirecting.received[0]
        assert path == "/hook"
        assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body)
        assert target.received == []
    finally:
        redirecting.close()
        target.close()


def test_a_name_resolving_inside_the_network_when_sent_is_refused_without_connecting(certificate, trusting) -> None:
    """DNS rebinding: the name answered a public address at submit, it answers loopback now; nothing is sent."""
    receiver = Receiver(certificate)
    try:
        settings = RuntimeSettings(callback_ports=str(receiver.port))
        policy = settings.outbound_policy()
        object.__setattr__(policy, "resolver", lambda host, port: ["127.0.0.1"])
        notifier = Notifier(settings=settings, post=CheckedPoster(policy, trusting), sleep=lambda _: None)
        url = f"https://rebind.example:{receiver.port}/hook"
        assert notifier.deliver_callback(url, {"requestId": "R1"}) == Delivery.REFUSED
        assert receiver.received == []
    finally:
        receiver.close()


@pytest.fixture
def silent_endpoint() -> Iterator[int]:
    """A port that accepts connections and never answers (the kernel completes the handshake; nobody reads)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def partner_world(certificate, silent_endpoint) -> Iterator[dict[str, Any]]:
    """moto with two partners' tokens, the receiver of channel-b, and both endpoints allowed as test receivers."""
    receiver = Receiver(certificate)
    receivers = f"https://127.0.0.1:{silent_endpoint},https://127.0.0.1:{receiver.port}"
    environment = {"EXHAUST_CALLBACK_TEST_RECEIVERS": receivers, "EXHAUST_CALLBACK_SECRET": SECRET}
    try:
        with moto_environment(extra_environment=environment) as settings:
            from exhaust.auth.credentials import CredentialStore

            store = CredentialStore()
            tokens = {
                channel: store.create("token", channel, channels=[channel], roles=["ORG_ADMIN"], user_id="u")[0]
                for channel in ("channel-a", "channel-b")
            }
            yield {
                "settings": settings,
                "tokens": tokens,
                "hanging": f"https://127.0.0.1:{silent_endpoint}/hook",
                "answering": f"https://127.0.0.1:{receiver.port}/hook",
                "receiver": receiver,
            }
    finally:
        receiver.close()


def submit(world: dict[str, Any], channel: str, callback: str, batch: str) -> str:
    event = load_event("submit/seed002_batch_filter")
    event["headers"]["X-Channel-Id"] = channel
    request = {"tag": TAG, "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch},
               "encryptionKey": "test-key-12345", "callbackUrl": callback}  # fmt: skip
    event["body"] = json.dumps({"request": request})
    status, _, body = call_api(event, world["tokens"][channel])
    assert status == 200, body
    return str(body["result"]["requestId"])


def cancel(world: dict[str, Any], channel: str, request_id: str) -> tuple[int, float]:
    event = load_event("cancel/by_request_id")
    event["pathParameters"] = {"tag": TAG}
    event["path"] = f"/api/dataset/v1/request/cancel/{TAG}"
    event["headers"]["X-Channel-Id"] = channel
    set_query(event, {"requestId": request_id})
    started = time.monotonic()
    status, _, body = call_api(event, world["tokens"][channel])
    assert status == 200, body
    return status, time.monotonic() - started


def queued(queue_url: str) -> int:
    """Messages waiting or in flight."""
    from exhaust import aws

    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_a_hanging_endpoint_holds_neither_the_api_nor_another_channels_callbacks(partner_world, trusting, monkeypatch):
    """Issue 28: with callbacks sent inside cancel, one channel's silent endpoint made its cancel take 11 s and held
    every other channel. Now cancel only queues the callback; the deliverer's threads take one channel each."""
    from exhaust.requests.store import RequestStore
    from exhaust_devkit.local.callbacks import LocalCallbacks

    # Short timeouts: the silent endpoint is cut in about a second instead of eight.
    for name in ("CALLBACK_CONNECT_TIMEOUT_SECONDS", "CALLBACK_READ_TIMEOUT_SECONDS", "CALLBACK_DEADLINE_SECONDS"):
        monkeypatch.setattr(notify, name, 0.5)
    world = partner_world
    hanging = [submit(world, "channel-a", world["hanging"], f"a{n}") for n in range(3)]
    answering = submit(world, "channel-b", world["answering"], "b1")
    for request_id in hanging:
        assert cancel(world, "channel-a", request_id)[1] < 2.0
    assert cancel(world, "channel-b", answering)[1] < 2.0

    stopping = threading.Event()
    callbacks = LocalCallbacks(world["settings"], stopping)
    callbacks.deliverer.notifier.post = CheckedPoster(get_settings().outbound_policy(), trusting)
    callbacks.deliverer.notifier.sleep = lambda _: None
    threads = [threading.Thread(target=callbacks.run, daemon=True) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while not world["receiver"].received and time.monotonic() - started < 10:
            time.sleep(0.05)
        delivered_after = time.monotonic() - started
        ((_, headers, body),) = world["receiver"].received
        assert json.loads(body)["requestId"] == answering
        assert json.loads(body)["event"] == "cancelled"
        assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body)
        # channel-a's three take 3 x 2 tries x 0.5 s one after the other; channel-b's is not behind them.
        assert delivered_after < 2.5
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and queued(world["settings"].callback_queue_url):
            time.sleep(0.1)
        # Tried and failed: still in the outbox of each channel-a request, for the sweeper to queue again later.
        assert [stored.outbox for stored in map(RequestStore().get, hanging) if stored] == [["callback"]] * 3
    finally:
        stopping.set()
        for thread in threads:
            thread.join(timeout=5)
