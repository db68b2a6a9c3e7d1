"""`exhaust local` leaves within its stop deadline whatever the stop is waiting for (a call stuck in moto, a busy
machine): a stop whose parts hang still ends the process, with exit status 0 and a line saying so."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

# A LocalService whose start answers at once and whose stop never returns: only the watchdog can end the process.
HANGING_STOP = textwrap.dedent(
    """
    import threading
    from exhaust_devkit import cli
    from exhaust_devkit.local import runtime

    class Hanging:
        restored = False
        state_dir = "state"

        def __init__(self, **_settings):
            pass

        def start(self):
            return {"baseUrl": "http://127.0.0.1:1", "awsEndpoint": "http://127.0.0.1:2"}

        def stop(self):
            threading.Event().wait()

    runtime.LocalService = Hanging
    raise SystemExit(cli.main(["local", "--port", "0"]))
    """
)


def test_a_stop_that_hangs_still_ends_the_process_in_time(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", HANGING_STOP], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert "ready at" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("exhaust local did not leave after SIGTERM while its stop hung") from None
    assert process.returncode == 0, err
    assert "stopped before its stop finished; every answered change is kept" in out


# A LocalService whose start answers at once, then one of its threads receives the SIGTERM (the kernel may hand a
# process's signal to any thread): the main thread must still notice it and stop.
SIGNAL_TO_ANOTHER_THREAD = textwrap.dedent(
    """
    import os, signal, threading, time
    from exhaust_devkit import cli
    from exhaust_devkit.local import runtime

    def terminate_through_this_thread():
        time.sleep(0.5)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    class Quick:
        restored = False
        state_dir = "state"

        def __init__(self, **_settings):
            pass

        def start(self):
            threading.Thread(target=terminate_through_this_thread, daemon=True).start()
            return {"baseUrl": "http://127.0.0.1:1", "awsEndpoint": "http://127.0.0.1:2"}

        def stop(self):
            pass

    runtime.LocalService = Quick
    raise SystemExit(cli.main(["local", "--port", "0"]))
    """
)


def test_a_sigterm_received_by_another_thread_still_stops_the_service(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_TO_ANOTHER_THREAD],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("a SIGTERM delivered to a service thread was never handled") from None
    assert process.returncode == 0, err
    assert "exhaust local mode stopped" in out


# A LocalService with a build running (a worker of a thread pool, as the local workflow's builders are) whose
# output's reader goes away before the SIGTERM, and whose stop outlasts the watchdog (a loaded machine): no line can
# be written any more (a broken pipe).
READER_GONE = textwrap.dedent(
    """
    import threading, time
    from concurrent.futures import ThreadPoolExecutor
    from exhaust_devkit import cli
    from exhaust_devkit.local import runtime

    class Building:
        restored = False
        state_dir = "state"

        def __init__(self, **_settings):
            self.builds = ThreadPoolExecutor(max_workers=1)

        def start(self):
            self.builds.submit(threading.Event().wait)  # a build that outlasts the stop
            return {"baseUrl": "http://127.0.0.1:1", "awsEndpoint": "http://127.0.0.1:2"}

        def stop(self):
            time.sleep(6)

    runtime.LocalService = Building
    raise SystemExit(cli.main(["local", "--port", "0"]))
    """
)


def test_a_stop_whose_output_is_gone_still_ends_the_process_in_time(tmp_path: Path) -> None:
    """Issue 28: `exhaust local` whose reader had left (a closed terminal, a pipe to a program that ended) never
    ended after SIGTERM: the watchdog's line raised a broken pipe before it could end the process, the stop's
    last line too, and the interpreter's exit then waited for the builds."""
    process = subprocess.Popen(
        [sys.executable, "-c", READER_GONE], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    assert "ready at" in process.stdout.readline()
    process.stdout.close()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=8)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("exhaust local did not leave after SIGTERM once its output was gone") from None
    assert process.returncode == 0
