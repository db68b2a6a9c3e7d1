"""The partner client is a distribution of its own: its wheel declares no dependency, installs into an empty venv
(no site packages, not even pip), and there `exhaust-client` runs on the standard library alone: its --help, and a
read against a stand-in of the request API."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import exhaust_client.cli
import exhaust_devkit.cli
import pytest
from exhaust.digests import file_sha256 as service_sha256
from exhaust_client.client import file_sha256 as client_sha256

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO_ROOT / "client"
# Run in the venv: every top-level module the client's command line and library load, less the standard library's.
NOT_STANDARD = """
import json, sys
import exhaust_client.cli, exhaust_client.client
standard = set(sys.stdlib_module_names) | set(sys.builtin_module_names) | {"__main__"}
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} - standard)))
"""
READ_ANSWER = {"requestId": "req-1", "tag": "tag-1", "status": "SUCCESS", "dataset": "progress-exhaust", "files": []}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv with the client's wheel installed, built offline from a copy of client/ (the build writes
    beside its sources)."""
    root = tmp_path_factory.mktemp("client-distribution")
    shutil.copytree(CLIENT_DIR, root / "client", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    wheel_command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [*wheel_command, "--quiet", "--wheel-dir", str(root / "wheels"), str(root / "client")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (root / "wheels").glob("exhaust_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        assert "Requires-Dist" not in archive.read(metadata).decode()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
    install = [str(Path(sys.executable).with_name("uv")), "pip", "install", "--offline", "--no-deps", "--quiet"]
    subprocess.run(
        [*install, "--python", str(root / "venv" / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return root / "venv"


def run_in(venv: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """A command of the venv, from an empty directory, with nothing of this repository on its path."""
    environment = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(venv)}
    return subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=venv,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_client_loads_nothing_but_the_standard_library(venv: Path):
    result = run_in(venv, "python", "-I", "-c", NOT_STANDARD)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["exhaust_client"]


def test_its_command_answers_help(venv: Path):
    result = run_in(venv, "exhaust-client", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("submit", "read", "list", "search", "cancel", "delete", "download"):
        assert command in result.stdout


@pytest.fixture
def api() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A stand-in of the request API's read: its base URL, and the requests it received."""
    received: list[dict[str, str]] = []

    class Read(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append({"path": self.path, **{name.lower(): value for name, value in self.headers.items()}})
            body = json.dumps({"id": "api.exhaust.read", "params": {"status": "successful"}, "result": READ_ANSWER})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Read)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_its_command_reads_a_request_from_the_api(venv: Path, api: tuple[str, list[dict[str, str]]]):
    base_url, received = api
    result = run_in(
        venv,
        "exhaust-client",
        "read",
        *("--base-url", base_url, "--token", "exh_partner", "--channel", "channel-1"),
        *("--tag", "tag-1", "--request-id", "req-1", "--json"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == READ_ANSWER
    (request,) = received
    assert request["path"] == "/api/dataset/v1/request/read/tag-1?requestId=req-1"
    assert request["authorization"] == "Bearer exh_partner"
    assert request["x-channel-id"] == "channel-1"


def test_its_refusals_are_one_line(venv: Path):
    result = run_in(venv, "exhaust-client", "read", "--tag", "t", "--request-id", "r")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "exhaust-client: error: no local credentials file at .exhaust/local.json: start local mode with `make run` "
        "in the repository, or pass --base-url, --token, --channel"
    ]


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 + 7])
def test_the_client_checks_downloads_with_the_services_sha256(tmp_path: Path, size: int):
    path = tmp_path / "file.zip"
    path.write_bytes(os.urandom(size))
    assert client_sha256(path) == service_sha256(path)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (found,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(found.choices)


def options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(option for action in parser._actions for option in action.option_strings)


def test_exhaust_client_in_the_repository_is_the_partners_command():
    partner = subcommands(exhaust_client.cli.build_parser())
    under_exhaust = subcommands(subcommands(exhaust_devkit.cli.build_parser())["client"])
    assert {"submit", "read", "list", "search", "cancel", "delete", "download"} <= partner.keys()
    assert {name: options(child) for name, child in under_exhaust.items()} == {
        name: options(child) for name, child in partner.items()
    }
