"""The pipeline's zip Lambdas run on the shared layer, which has neither pyarrow nor ISA-L (builder image only)."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ZIP_FUNCTIONS = ["dispatcher", "sweeper", "finalize", "mark_failed", "cancel", "delete"]
PROBE = """
import importlib.util, sys
for index, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"probe{index}", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
heavy = sorted(name for name in ("pyarrow", "pyzipper", "isal") if name in sys.modules)
assert not heavy, heavy
"""


def load_without_builder_dependencies(*paths: Path) -> subprocess.CompletedProcess[str]:
    env = {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, paths)], capture_output=True, text=True, env=env, check=False
    )


def test_zip_functions_load_without_the_builder_dependencies():
    handlers = [REPO_ROOT / "functions" / name / "handler.py" for name in ZIP_FUNCTIONS]
    result = load_without_builder_dependencies(*handlers)
    assert result.returncode == 0, result.stderr
    # The probe does notice: the AES zip writer needs pyarrow and ISA-L.
    assert load_without_builder_dependencies(REPO_ROOT / "layers" / "exhaust" / "aes_zip.py").returncode != 0
