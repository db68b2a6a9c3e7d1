"""The dataset get handlers answer from S3 listings only: their cold start must not load pyarrow or the lake."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPORT_HANDLER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(sorted(name for name in sys.modules if name.startswith(("pyarrow", "exhaust.lake", "exhaust.standard.producer"))))
"""


@pytest.mark.parametrize("function", ["dataset_get", "public_dataset_get"])
def test_dataset_get_handlers_never_load_pyarrow(function):
    handler = REPO_ROOT / "functions" / function / "handler.py"
    run = subprocess.run([sys.executable, "-c", IMPORT_HANDLER, str(handler)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
