"""Fixtures shared by every test layer: events/ files, moto-backed resources, the local service."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, e.g. load_event("health/get")."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))


@pytest.fixture
def aws_resources(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every resource of the stack in moto (mock_aws), with the environment a Lambda would get."""
    from exhaust import aws
    from exhaust.local.resources import create_resources
    from exhaust.settings import get_settings
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        aws.reset_clients()
        settings = create_resources()
        for name, value in settings.as_environ().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield settings
    aws.reset_clients()
    get_settings.cache_clear()


class LocalServiceProcess:
    """`exhaust local` in a subprocess on a free port, as a user runs it."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.credentials_file = workdir / "local.json"
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.credentials: dict[str, Any] = {}

    def start(self, timeout: float = 120.0) -> dict[str, Any]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("AWS_ENDPOINT_URL", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exhaust.cli",
                "local",
                "--port",
                "0",
                "--credentials-file",
                str(self.credentials_file),
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
                return self.credentials
        self.stop()
        raise RuntimeError("local mode did not become ready:\n" + "".join(self.output))

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM, wait; answer the seconds it took to exit."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            remaining, _ = self.process.communicate(timeout=timeout)
            self.output.append(remaining or "")
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        return time.monotonic() - started


@pytest.fixture(scope="session")
def local_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServiceProcess]:
    service = LocalServiceProcess(tmp_path_factory.mktemp("local"))
    service.start()
    yield service
    service.stop()
