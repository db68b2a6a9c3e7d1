"""`make test` runs `--dist loadgroup`: each xdist_group's tests must share one worker (one synth, one server)."""

import re
import subprocess
import sys
from pathlib import Path

GROUPED_TESTS = """
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("case", range(8))
def test_grouped(case):
    pass
"""


def test_a_groups_tests_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    workers = re.findall(r"\[(gw\d+)\] .* PASSED test_grouped\.py::test_grouped\[\d+\]@together", run.stdout)
    assert len(workers) == 8, run.stdout
    assert len(set(workers)) == 1
