"""The `exhaust` command as a user runs it (a subprocess): output, one-line errors with a hint, exit codes.

What needs no running service is here, against a small fake of the request API where a file has to be served;
the commands that talk to local mode are in tests/e2e_local/test_client.py.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from exhaust import __version__
from exhaust.principal import ADMIN_ROLE, DEFAULT_DATASET_ROLES, ON_BEHALF_ROLE
from exhaust_client.client import ExhaustClient, ProgressBar
from exhaust_devkit.auth.cli import KNOWN_ROLES
from exhaust_devkit.cli import build_parser

from tests.conftest import run_exhaust

FILE_BYTES = bytes(range(256)) * 4096  # 1 MiB
FILE_SHA256 = hashlib.sha256(FILE_BYTES).hexdigest()


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a user sees: exactly one line on stderr, never a traceback."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_version(tmp_path):
    result = run_exhaust("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"exhaust {__version__}"


def subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield name, child
                yield from subparsers(child)


def test_every_option_of_every_command_is_described():
    undescribed = [
        f"{child.prog} {'/'.join(action.option_strings) or action.dest}"
        for _, child in subparsers(build_parser())
        for action in child._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and not action.help
    ]
    assert undescribed == []


def test_local_help_describes_its_options(tmp_path):
    result = run_exhaust("local", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option, words in (("--port", "0 picks a free one"), ("--state-dir", "between runs"), ("--fresh", "empty")):
        assert option in result.stdout
        assert words in result.stdout


def test_token_roles_are_the_services():
    assert set(KNOWN_ROLES) == {*DEFAULT_DATASET_ROLES, ADMIN_ROLE, ON_BEHALF_ROLE}


@pytest.mark.parametrize(
    "command",
    [
        ("client", "read", "--tag", "t", "--request-id", "r"),
        ("client", "list", "--tag", "t"),
        ("client", "search"),
        ("client", "legacy", "--dataset", "d", "--resource-id", "r", "--license-key", "k", "--out", "x.zip"),
        ("token", "list"),
        ("produce", "--date", "2026-02-01"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_outside_the_repository_a_missing_credentials_file_says_how_to_get_one(tmp_path, command):
    result = run_exhaust(*command, cwd=tmp_path)
    assert result.returncode == 1
    line = one_line_error(result)
    assert "no local credentials file at .exhaust/local.json" in line
    assert "make run" in line


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("produce", "--date", "2026-02-30"), "'2026-02-30' is not a day"),
        (("token", "create", "--name", "n", "--channel", "c"), "the following arguments are required: --role"),
        (("token", "create", "--name", "n", "--channel", "c", "--role", "BOGUS"), "invalid choice: 'BOGUS'"),
        (("token", "create", "--name", "n", "--role", "ORG_ADMIN"), "--channel: a token needs the channel"),
        (
            ("token", "create", "--name", "n", "--channel", "c", "--role", "ORG_ADMIN", "--expires-days", "0"),
            "must be at least 1 day",
        ),
        (
            ("token", "create", "--name", "n", "--channel", "c", "--role", "ORG_ADMIN", "--expires-days", "-5"),
            "must be at least 1 day",
        ),
        (("license", "create", "--name", "n", "--dataset", "raw-telemetry"), "needs the partner"),
        (
            (
                "client",
                "legacy",
                "--dataset",
                "d",
                "--resource-id",
                "r",
                "--license-key",
                "k",
                "--out",
                "x.zip",
                "--from-date",
                "2026-01-01",
            ),
            "--from-date and --to-date go together",
        ),
        (
            ("client", "submit", "--dataset", "progress-exhaust", "--tag", "t", "--batch-id", "b", "--out", "dir"),
            "add --wait",
        ),
        (
            ("client", "submit", "--dataset", "progress-exhaust", "--tag", "t", "--search-filter", "{not json"),
            "--search-filter: not JSON",
        ),
        # Issue 28: a date the calendar does not have was sent, refused by the service, and exited 1.
        (("client", "search", "--requested-date", "2026-02-30"), "'2026-02-30' is not a date of the calendar"),
        (("client", "search", "--requested-date", "2026-2-3"), "'2026-2-3' is not a date of the calendar"),
        (
            (
                "client",
                "legacy",
                "--dataset",
                "d",
                "--resource-id",
                "r",
                "--license-key",
                "k",
                "--out",
                "x.zip",
                "--from-date",
                "2026-01-01",
                "--to-date",
                "2026-13-01",
            ),
            "--to-date: '2026-13-01' is not a date",
        ),
        (
            (
                "client",
                "submit",
                "--dataset",
                "progress-exhaust",
                "--tag",
                "t",
                "--batch-id",
                "b",
                "--encryption-key",
                "k1234567",
                "--encryption-key-prompt",
            ),
            "give the encryption key one way",
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_impossible_or_unsafe_commands_are_refused_on_one_line(tmp_path, command, expected):
    result = run_exhaust(*command, cwd=tmp_path)
    assert result.returncode == 2
    line = one_line_error(result)
    assert expected in line
    assert "--help" in line


def test_a_busy_port_suggests_another(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_exhaust("local", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    line = one_line_error(result)
    assert f"port {port}" in line
    assert "already in use" in line
    assert "PORT=" in line


def test_an_invalid_setting_stops_local_mode_with_the_variable_named(tmp_path):
    result = run_exhaust(
        "local", "--port", "0", cwd=tmp_path, environment={"EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL": "0"}
    )
    assert result.returncode == 1
    assert "EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL: Input should be greater than or equal to 1" in one_line_error(result)


def test_a_service_that_is_not_running_is_one_line(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    credentials = {"baseUrl": f"http://127.0.0.1:{port}", "token": "exh_x", "channel": "c"}
    (tmp_path / "local.json").write_text(json.dumps(credentials))
    result = run_exhaust(
        "client", "read", "--local-credentials", "local.json", "--tag", "t", "--request-id", "r", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "is the service running" in one_line_error(result)


# -- against a fake of the request API -------------------------------------------------------------------


class FakeApi(BaseHTTPRequestHandler):
    """read answers a SUCCESS with one file; the file is sent whole, or (stall) half of it and then nothing."""

    stall = threading.Event()
    deleted = threading.Event()
    reads: list[int] = []
    statuses: list[tuple[int, str]] = []

    def log_message(self, *args):
        pass

    def _json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        base = f"http://{self.headers['Host']}"
        if self.path.startswith("/api/dataset/v1/request/read/"):
            self.reads.append(1)
            status, state = self.statuses.pop(0) if self.statuses else (200, "SUCCESS")
            if status != 200:
                self._json(status, {"params": {"err": "THROTTLED", "errmsg": "slow down"}}, {"Retry-After": "7"})
                return
            file = {"name": "data.zip", "rows": 3, "bytes": len(FILE_BYTES), "sha256": FILE_SHA256}
            result = {"requestId": "r", "tag": "t", "status": state, "files": [{**file, "url": base + "/file"}]}
            if self.deleted.is_set():
                message = "The files of this request were deleted on 2026-05-01T00:00:00Z"
                result |= {"files": [], "deletedAt": "2026-05-01T00:00:00Z", "statusMessage": message}
            self._json(200, {"result": result})
            return
        start = 0
        if ranged := self.headers.get("Range"):
            start = int(ranged.removeprefix("bytes=").rstrip("-"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(FILE_BYTES) - start))
        self.end_headers()
        if self.stall.is_set():
            self.wfile.write(FILE_BYTES[start : len(FILE_BYTES) // 2])
            self.wfile.flush()
            while self.stall.is_set():
                time.sleep(0.05)
            return
        self.wfile.write(FILE_BYTES[start:])


@pytest.fixture
def fake_api(tmp_path):
    FakeApi.stall.clear()
    FakeApi.deleted.clear()
    FakeApi.reads.clear()
    FakeApi.statuses.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "local.json").write_text(json.dumps({"baseUrl": base, "token": "exh_fake", "channel": "c"}))
    yield base
    FakeApi.stall.clear()
    server.shutdown()
    server.server_close()


DOWNLOAD = ("client", "download", "--local-credentials", "local.json", "--tag", "t", "--request-id", "r", "--out", "d")


def test_ctrl_c_during_a_download_says_run_it_again_and_the_next_run_resumes(fake_api, tmp_path):
    FakeApi.stall.set()
    command = [str(Path(sys.executable).with_name("exhaust")), *DOWNLOAD]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "d" / "data.zip.part"
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size >= len(FILE_BYTES) // 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "exhaust: error: interrupted; run it again to resume"
    assert partial.stat().st_size == len(FILE_BYTES) // 2

    FakeApi.stall.clear()
    again = run_exhaust(*DOWNLOAD, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"data.zip: resuming at {len(FILE_BYTES) // 2} of {len(FILE_BYTES)} bytes" in again.stderr
    assert "checksum ok" in again.stderr
    assert "\r" not in again.stderr  # not a terminal: plain lines, no progress bar
    assert hashlib.sha256((tmp_path / "d" / "data.zip").read_bytes()).hexdigest() == FILE_SHA256
    assert not partial.exists()


def test_download_json_names_the_saved_files(fake_api, tmp_path):
    result = run_exhaust(*DOWNLOAD, "--json", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"saved": ["d/data.zip"]}
    assert result.stderr == ""


def test_waiting_reads_soon_then_backs_off_to_the_cap_and_honours_retry_after(fake_api):
    FakeApi.statuses.extend([(429, ""), (200, "PROCESSING"), (200, "PROCESSING"), (200, "PROCESSING")])
    FakeApi.statuses.extend([(200, "PROCESSING")] * 3)
    slept: list[float] = []
    said: list[str] = []
    client = ExhaustClient(fake_api, "exh_fake", "c", sleep=slept.append, say=said.append)
    result = client.wait("t", "r", interval_seconds=1.0, max_interval_seconds=3.0)
    assert result["status"] == "SUCCESS"
    assert slept == [7.0, 1.5, 2.25, 3.0, 3.0, 3.0, 3.0]
    assert any("busy" in line and "7 s" in line for line in said)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_byte_progress_bar(fake_api, tmp_path):
    screen = Terminal()
    client = ExhaustClient(fake_api, "exh_fake", "c", say=lambda _: None, progress=ProgressBar(screen))
    (path,) = client.download(client.read("t", "r"), tmp_path)
    assert path.read_bytes() == FILE_BYTES
    drawn = screen.getvalue()
    assert drawn.startswith("\rdata.zip [")
    assert drawn.endswith("] 100% 1.0 MiB/1.0 MiB\n")
    assert ProgressBar(io.StringIO()).interactive is False


def test_downloading_a_deleted_request_says_so_fails_and_creates_nothing(fake_api, tmp_path):
    """Issue 28: it printed nothing, exited 0 and left an empty folder."""
    FakeApi.deleted.set()
    result = run_exhaust(*DOWNLOAD, cwd=tmp_path)
    assert result.returncode == 1
    assert "nothing to download: The files of this request were deleted on" in one_line_error(result)
    assert not (tmp_path / "d").exists()


def test_json_into_a_reader_that_leaves_is_no_error(fake_api, tmp_path):
    """Issue 28: `--json | head` sometimes failed with "Broken pipe; is the service running"."""
    command = [str(Path(sys.executable).with_name("exhaust")), "client", "read", "--json", "--local-credentials",
               "local.json", "--tag", "t", "--request-id", "r"]  # fmt: skip
    read_end, write_end = socket.socketpair()
    read_end.close()  # the reader is gone before anything is written
    process = subprocess.run(command, cwd=tmp_path, stdout=write_end.fileno(), stderr=subprocess.PIPE, text=True,
                             timeout=60, check=False)  # fmt: skip
    write_end.close()
    assert "Broken pipe" not in process.stderr
    assert process.stderr == ""
    assert process.returncode == 141


def test_the_encryption_key_comes_from_a_file_the_environment_or_the_command_line(tmp_path, monkeypatch):
    from exhaust_client.client import ENCRYPTION_KEY_VARIABLE, _encryption_key

    def given(**options):
        defaults = {"encryption_key": None, "encryption_key_file": None, "encryption_key_prompt": False}
        return _encryption_key(argparse.Namespace(**{**defaults, **options}))

    monkeypatch.delenv(ENCRYPTION_KEY_VARIABLE, raising=False)
    assert given() is None
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, "from-the-environment")
    assert given() == "from-the-environment"
    assert given(encryption_key="from-the-line") == "from-the-line"
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\nignored\n")
    assert given(encryption_key_file=str(key_file)) == "from-a-file"
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed")
    assert given(encryption_key_prompt=True) == "typed"
