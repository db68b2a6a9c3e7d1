"""Local mode's stop and crash (issue 28): what a client saw acknowledged survives SIGTERM and kill -9 at a state of
thousands of requests, and SIGTERM ends the process within its bound, idle and mid-build.

`exhaust local` in subprocesses, on a state made once for the module: one start seeds it and finishes a request,
which is then copied 3,000 times straight into the saved state (what thousands of earlier requests leave).
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from exhaust_client.client import ExhaustClient
from exhaust_devkit.local.journal import item_key, replay
from exhaust_devkit.local.runtime import RESUMED_MESSAGE

from tests.conftest import LocalServiceProcess, run_exhaust

# One worker runs the module, so the kept state is made once.
pytestmark = pytest.mark.xdist_group("stop-and-crash")

KEPT_REQUESTS = 3000
ACKNOWLEDGED = 30
KEY = "stop-and-crash-key-123"
# docs/local-mode.md promises a stop within 5 s; the bound leaves room for a loaded 2-core machine.
STOP_BOUND_SECONDS = 8.0
# Every course of the local channel: its 20 batches take far longer than a stop.
ALL_COURSES = {"request": {"filters": {"contentType": "Course", "channel": "local-channel"}}}


def client_of(credentials: dict[str, Any], token: str | None = None) -> ExhaustClient:
    return ExhaustClient(
        credentials["baseUrl"], token or credentials["token"], credentials["channel"], say=lambda _: None
    )


@dataclass
class KeptState:
    workdir: Path
    idle_stop_seconds: float


@pytest.fixture(scope="module")
def kept_state(tmp_path_factory: pytest.TempPathFactory) -> KeptState:
    """A workdir whose state holds the seeds and 3,000 finished requests; and how long its idle stop took."""
    workdir = tmp_path_factory.mktemp("kept")
    service = LocalServiceProcess(workdir)
    credentials = service.start()
    try:
        client = client_of(credentials)
        batch = credentials["samples"]["progressBatchId"]
        submitted = client.submit(
            {"tag": "kept", "dataset": "progress-exhaust", "datasetConfig": {"batchId": batch}, "encryptionKey": KEY}
        )
        finished = client.wait("kept", submitted["requestId"], timeout_seconds=120, max_interval_seconds=1)
        assert finished["status"] == "SUCCESS"
    finally:
        idle_stop_seconds = service.stop()  # nothing building or waiting
    state = workdir / ".exhaust" / "state"
    # The finished request is in the journal (the stop does not save): its last record is the template.
    journaled = replay(state, {"requests": ("requestId",)}).items["requests"]
    template = journaled[item_key({"requestId": {"S": submitted["requestId"]}}, ("requestId",))]
    assert template is not None
    tables = state / "tables" / "requests.json"
    items = json.loads(tables.read_text())
    for number in range(KEPT_REQUESTS):
        items.append({**template, "requestId": {"S": f"KEPT{number:028d}"}})
    tables.write_text(json.dumps(items))
    return KeptState(workdir, idle_stop_seconds)


@pytest.fixture
def workdir(kept_state: KeptState, tmp_path: Path) -> Path:
    shutil.copytree(kept_state.workdir / ".exhaust", tmp_path / ".exhaust")
    shutil.copy(kept_state.workdir / "local.json", tmp_path / "local.json")
    return tmp_path


def submit_acknowledged(credentials: dict[str, Any], count: int = ACKNOWLEDGED) -> list[str]:
    """`count` submits, each answered 200 (their ids)."""
    client = client_of(credentials)
    config = {"batchId": credentials["samples"]["progressBatchId"]}
    requests = [
        {"tag": f"ack-{n}", "dataset": "progress-exhaust", "datasetConfig": config, "encryptionKey": KEY}
        for n in range(count)
    ]
    return [client.submit(request)["requestId"] for request in requests]


def assert_all_readable(credentials: dict[str, Any], acknowledged: list[str]) -> None:
    client = client_of(credentials)
    for number, request_id in enumerate(acknowledged):
        assert client.read(f"ack-{number}", request_id)["requestId"] == request_id
    assert client.read("kept", f"KEPT{KEPT_REQUESTS - 1:028d}")["status"] == "SUCCESS"


def test_every_request_acknowledged_before_sigterm_survives_a_stop_mid_build(workdir: Path) -> None:
    """Issue 28: 30 submits answered 200, SIGTERM a second later, `make run` again: all 30 were gone (the stop's
    save of about 2,900 requests did not fit its 2.5 s). And the stop took 60 s mid-build; the interrupted build
    resumes at the next start."""
    first = LocalServiceProcess(workdir, environment={"EXHAUST_MAP_MAX_CONCURRENCY": "1"})
    credentials = first.start()
    try:
        client = client_of(credentials)
        config = {"searchFilter": ALL_COURSES}
        long = {"tag": "long", "dataset": "progress-exhaust", "datasetConfig": config, "encryptionKey": KEY}
        long_id = client.submit(long)["requestId"]
        acknowledged = submit_acknowledged(credentials)
        deadline = time.monotonic() + 60
        while client.read("long", long_id)["progress"].get("batchesDone", 0) < 1:
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.2)
    finally:
        seconds = first.stop()
    assert first.process is not None
    assert first.process.returncode == 0, "".join(first.output)[-5000:]
    assert seconds < STOP_BOUND_SECONDS

    second = LocalServiceProcess(workdir)
    try:
        restarted = second.start()
        assert_all_readable(restarted, acknowledged)
        resumed = client_of(restarted).read("long", long_id)
        assert resumed["status"] in ("SUBMITTED", "PROCESSING")
        assert resumed["statusMessage"] == RESUMED_MESSAGE
    finally:
        second.stop()


def test_an_idle_stop_ends_within_its_bound(kept_state: KeptState) -> None:
    """Issue 28: the stop took 6.6 s idle (measured on the module's first run, once its request had finished)."""
    assert kept_state.idle_stop_seconds < STOP_BOUND_SECONDS


def test_acknowledged_submits_and_a_new_token_survive_kill_9(workdir: Path) -> None:
    """Issue 28: kill -9 lost up to 53 s of acknowledged submits and a token created 3 s before it."""
    first = LocalServiceProcess(workdir)
    credentials = first.start()
    try:
        acknowledged = submit_acknowledged(credentials)
        created = run_exhaust(
            "token",
            "create",
            "--local-credentials",
            "local.json",
            "--name",
            "made-just-before",
            "--role",
            "ORG_ADMIN",
            "--channel",
            credentials["channel"],
            cwd=workdir,
        )
        assert created.returncode == 0, created.stderr
        token = json.loads(created.stdout)["token"]
    finally:
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)

    second = LocalServiceProcess(workdir)
    try:
        restarted = second.start()
        assert_all_readable(restarted, acknowledged)
        assert client_of(restarted, token).read("ack-0", acknowledged[0])["requestId"] == acknowledged[0]
    finally:
        second.stop()
