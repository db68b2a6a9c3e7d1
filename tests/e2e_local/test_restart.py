"""Local mode keeps its state across a restart: the same tokens, the finished requests and their files, and the
request that was building when it stopped finishes after the next start. `--fresh` starts empty.

One workdir, three starts of `exhaust local` (the expensive part, so all of it is one story).
"""

import json

import pytest
import pyzipper
from exhaust_client.client import ClientError, ExhaustClient
from exhaust_devkit.local.journal import item_key, replay

from tests.conftest import LocalServiceProcess, run_exhaust

KEY = "restart-test-key-123"
# Every course of the local channel: its 20 batches, built one at a time below, take far longer than a stop.
ALL_COURSES = json.dumps({"request": {"filters": {"contentType": "Course", "channel": "local-channel"}}})


def submit(workdir, tag, *selector, extra=()):
    return run_exhaust(
        "client",
        "submit",
        "--json",
        "--local-credentials",
        "local.json",
        "--dataset",
        "progress-exhaust",
        "--tag",
        tag,
        *selector,
        "--encryption-key",
        KEY,
        *extra,
        cwd=workdir,
    )


def saved_status(workdir, request_id):
    """The request's status as the next start loads it: the journal's last record of it, else the last full save."""
    state = workdir / ".exhaust" / "state"
    key = item_key({"requestId": {"S": request_id}}, ("requestId",))
    journaled = replay(state, {"requests": ("requestId",)}).items.get("requests", {})
    if key in journaled:
        item = journaled[key]
        assert item is not None, "the request was deleted"
        return item["status"]["S"]
    items = json.loads((state / "tables" / "requests.json").read_text())
    return next(item["status"]["S"] for item in items if item["requestId"]["S"] == request_id)


def test_a_restart_keeps_tokens_requests_and_files_and_finishes_the_request_in_flight(tmp_path):
    # The first run honours the settings the stack would pass: one open request per channel, one builder at once.
    first = LocalServiceProcess(
        tmp_path, environment={"EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL": "1", "EXHAUST_MAP_MAX_CONCURRENCY": "1"}
    )
    credentials = first.start()
    try:
        batch = credentials["samples"]["progressBatchId"]
        done = submit(
            tmp_path, "finished", "--batch-id", batch, extra=("--wait", "--max-interval", "1", "--out", "first")
        )
        assert done.returncode == 0, done.stderr
        finished = json.loads(done.stdout)
        assert finished["status"] == "SUCCESS"

        # A second local mode on the same state would overwrite this one's requests: it is refused.
        twin = run_exhaust("local", "--port", "0", "--credentials-file", "twin.json", cwd=tmp_path)
        assert twin.returncode == 1
        assert "another local mode is running with its state in .exhaust/state" in twin.stderr

        # The stop follows the submit closely, so the request is still building (20 batches, one at a time).
        building = submit(tmp_path, "in-flight", "--search-filter", ALL_COURSES)
        assert building.returncode == 0, building.stderr
        in_flight = json.loads(building.stdout)["requestId"]

        refused = submit(tmp_path, "one-too-many", "--batch-id", batch)
        assert refused.returncode == 1
        assert "HTTP 429" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        seconds = first.stop()
    assert first.process is not None
    assert first.process.returncode == 0, "".join(first.output)[-20000:]
    assert seconds < 5  # mid-build: the builders are not waited for
    assert "Traceback" not in "".join(first.output)
    assert saved_status(tmp_path, in_flight) in ("SUBMITTED", "PROCESSING")

    second = LocalServiceProcess(tmp_path)
    restarted = second.start()
    try:
        assert "restored from" in "".join(second.output)
        assert restarted["token"] == credentials["token"]
        assert restarted["samples"] == credentials["samples"]
        # A shell that exported the first run's token keeps working.
        client = ExhaustClient(restarted["baseUrl"], credentials["token"], credentials["channel"], say=lambda _: None)
        resumed = client.wait("in-flight", in_flight, timeout_seconds=120, max_interval_seconds=1)
        assert resumed["status"] == "SUCCESS"
        assert resumed["progress"]["batchesDone"] == resumed["progress"]["batchesTotal"] == 20
        assert len(resumed["files"]) == 20

        again = run_exhaust(
            "client",
            "download",
            "--json",
            "--local-credentials",
            "local.json",
            "--tag",
            "finished",
            "--request-id",
            finished["requestId"],
            "--out",
            "second",
            cwd=tmp_path,
        )
        assert again.returncode == 0, again.stderr
        (path,) = json.loads(again.stdout)["saved"]
        with pyzipper.AESZipFile(tmp_path / path) as archive:
            archive.setpassword(KEY.encode())
            assert archive.read(archive.namelist()[0]).startswith(b"Collection Id,")
    finally:
        second.stop()

    fresh = LocalServiceProcess(tmp_path, extra_args=("--fresh",))
    emptied = fresh.start()
    try:
        assert emptied["token"] != credentials["token"]
        with pytest.raises(ClientError, match="HTTP 401"):
            ExhaustClient(emptied["baseUrl"], credentials["token"], credentials["channel"]).read(
                "finished", finished["requestId"]
            )
        client = ExhaustClient(emptied["baseUrl"], emptied["token"], emptied["channel"])
        with pytest.raises(ClientError, match="HTTP 404"):
            client.read("finished", finished["requestId"])
    finally:
        fresh.stop()
