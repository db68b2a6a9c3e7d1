"""Fixtures shared by every test layer: events/ files, moto-backed resources, the local service."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import contract

if TYPE_CHECKING:
    from exhaust.requests.models import ExhaustRequest

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


def pytest_configure(config: pytest.Config) -> None:
    contract.record_gateway_answers(contract.RECORDER.record)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The contract test: the answers the test received (its fixtures' included) must match the document."""
    outcome = yield
    answers = contract.RECORDER.take()
    if item.get_closest_marker(contract.EXEMPT_MARKER) is None:
        found = [problem for answer in answers for problem in contract.violations(answer)]
        assert not found, "answers that contradict /api/openapi.json:\n" + "\n".join(found[:20])
    return outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    contract.ANSWER_LOG.unlink(missing_ok=True)


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, e.g. load_event("health/get")."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))


@contextlib.contextmanager
def moto_environment(extra_environment: dict[str, str] | None = None) -> Iterator[Any]:
    """Every resource of the stack in moto (mock_aws), with the environment a Lambda would get.

    A context manager so that a module-scoped fixture can share one account (creating it costs about a second).
    """
    from exhaust import aws
    from exhaust.api import cancel_and_delete
    from exhaust.api import requests as request_api
    from exhaust.settings import get_settings
    from exhaust_devkit.local.atomic import serialize_dynamodb
    from exhaust_devkit.local.resources import create_resources
    from moto import mock_aws

    # As local mode does: moto's conditional writes and transactions are not atomic across threads (the map's
    # builders run side by side).
    serialize_dynamodb()

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            aws.reset_clients()
            request_api.service.cache_clear()
            cancel_and_delete.service.cache_clear()
            settings = create_resources()
            for name, value in {**settings.as_environ(), **(extra_environment or {})}.items():
                patch.setenv(name, value)
            get_settings.cache_clear()
            try:
                yield settings
            finally:
                aws.reset_clients()
                request_api.service.cache_clear()
                cancel_and_delete.service.cache_clear()
                get_settings.cache_clear()


@pytest.fixture
def aws_resources() -> Iterator[Any]:
    with moto_environment() as settings:
        yield settings


@pytest.fixture(scope="module")
def aws_settings() -> Iterator[Any]:
    """As aws_resources, made once for a whole test module: its tests share moto's state (a lake, keys)."""
    with moto_environment() as settings:
        yield settings


class LocalServiceProcess:
    """`exhaust local` in a subprocess on a free port, as a user runs it."""

    def __init__(self, workdir: Path, extra_args: tuple[str, ...] = (), environment: dict[str, str] | None = None):
        self.workdir = workdir
        self.credentials_file = workdir / "local.json"
        self.extra_args = extra_args
        self.environment = environment or {}
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._drain: threading.Thread | None = None
        self.credentials: dict[str, Any] = {}

    def start(self, timeout: float = 120.0) -> dict[str, Any]:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # A stop that overruns is answered with every thread's traceback (SIGABRT, below) before the kill.
            "PYTHONFAULTHANDLER": "1",
            contract.ANSWER_LOG_VARIABLE: str(contract.ANSWER_LOG),
            **self.environment,
        }
        env.pop("AWS_ENDPOINT_URL", None)
        # `exhaust local` itself, with its answers logged for the contract test (tests/contract_local_mode.py).
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(REPO_ROOT / "tests" / "contract_local_mode.py"),
                "local",
                "--port",
                "0",
                "--credentials-file",
                str(self.credentials_file),
                *self.extra_args,
            ],
            cwd=self.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "ready" in line:
                self.credentials = json.loads(self.credentials_file.read_text())
                # Keep reading its log: a full pipe would block every thread of the service that logs.
                self._drain = threading.Thread(target=self._read_output, daemon=True)
                self._drain.start()
                return self.credentials
        self.stop()
        raise RuntimeError("local mode did not become ready:\n" + "".join(self.output))

    def _read_output(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM, wait; answer the seconds it took to exit."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)  # faulthandler writes each thread's stack to the output
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._drain is not None:
            self._drain.join(timeout=timeout)
        elif self.process.stdout is not None:
            self.output.append(self.process.stdout.read())
        return time.monotonic() - started


def run_exhaust(
    *args: str, cwd: Path, environment: dict[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """The installed `exhaust` command, as a user runs it: answers its exit status, stdout and stderr."""
    env = {**os.environ, **(environment or {})}
    env.pop("AWS_ENDPOINT_URL", None)
    command = Path(sys.executable).with_name("exhaust")
    return subprocess.run(
        [str(command), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def local_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServiceProcess]:
    service = LocalServiceProcess(tmp_path_factory.mktemp("local"))
    service.start()
    yield service
    service.stop()


def stored_request(request_id: str) -> ExhaustRequest:
    """The request as the requests table holds it now (the test fails when it is not there)."""
    from exhaust.requests.store import RequestStore

    found = RequestStore().get(request_id)
    assert found is not None, f"request {request_id} is not stored"
    return found


def call_api(event: dict[str, Any], token: str | None = None, **headers: str | None) -> tuple[int, dict[str, Any], Any]:
    """Send an API event as API Gateway would: the authorizer first on private routes, then the route's handler.

    A header given as None is removed from the event.

    Answers (status, headers, parsed JSON body or raw text).
    """
    from exhaust.api.http import error_response
    from exhaust.api.routes import find_route
    from exhaust.errors import ServiceError
    from exhaust_devkit.local.functions import invoke
    from exhaust_devkit.local.gateway import GATEWAY_API_ID, authorize

    event = copy.deepcopy(event)
    event["headers"] = {k: v for k, v in (event.get("headers") or {}).items() if k != "Authorization"}
    if token is not None:
        event["headers"]["Authorization"] = f"Bearer {token}"
    for name, value in headers.items():
        header = name.replace("_", "-")
        event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != header.lower()}
        if value is not None:
            event["headers"][header] = value
    found = find_route(event["httpMethod"], event["path"])
    assert found is not None, event["path"]
    route, _ = found
    try:
        if route.auth == "token":
            event.setdefault("requestContext", {})["authorizer"] = authorize(event)
        answer = invoke(route.function, event)
    except ServiceError as error:
        answer = error_response(GATEWAY_API_ID, error)
    contract.RECORDER.record(contract.Answer.from_proxy(event["httpMethod"], event["path"], answer))
    body = answer.get("body") or ""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body
    return int(answer["statusCode"]), dict(answer.get("headers") or {}), parsed


@pytest.fixture
def tokens(aws_resources) -> dict[str, str]:
    """Tokens of every kind the authorization matrix needs, in moto."""
    from exhaust.auth.credentials import CredentialStore

    store = CredentialStore()
    made = {
        "channel_a": store.create("token", "partner a", channels=["channel-a"], roles=["ORG_ADMIN"], user_id="user-a")[
            0
        ],
        "channel_b": store.create("token", "partner b", channels=["channel-b"], roles=["ORG_ADMIN"], user_id="user-b")[
            0
        ],
        "no_role": store.create("token", "viewer", channels=["channel-a"], roles=["VIEWER"], user_id="viewer")[0],
        "on_behalf": store.create("token", "portal", channels=["channel-a"], roles=["ORG_ADMIN", "ON_BEHALF"])[0],
        "admin": store.create("token", "operator", channels=["*"], roles=["ADMIN"])[0],
    }
    expired_secret, expired = store.create("token", "old", channels=["channel-a"], roles=["ORG_ADMIN"])
    store.table.update_item(
        Key={"secretHash": expired.secretHash},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": 1_000_000},
    )
    made["expired"] = expired_secret
    revoked_secret, revoked = store.create("token", "gone", channels=["channel-a"], roles=["ORG_ADMIN"])
    store.revoke(revoked.credentialId)
    made["revoked"] = revoked_secret
    return made


def set_query(event: dict[str, Any], params: dict[str, str] | None) -> dict[str, Any]:
    """Replace an event's query string the way API Gateway fills it (single and multi-value forms)."""
    event["queryStringParameters"] = params or None
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in params.items()} if params else None
    return event
