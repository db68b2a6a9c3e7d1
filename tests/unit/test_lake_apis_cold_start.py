"""The legacy and export handlers read Parquet, yet their cold start must not load pyarrow (house rule)."""

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
assert callable(module.handler)
heavy = [name for name in sys.modules if name.startswith(("pyarrow", "exhaust.lake"))]
print(sorted(heavy))
"""


@pytest.mark.parametrize("function", ["legacy", "export", "export_ui"])
def test_importing_the_handler_loads_neither_pyarrow_nor_the_lake(function):
    handler = REPO_ROOT / "functions" / function / "handler.py"
    run = subprocess.run([sys.executable, "-c", IMPORT_HANDLER, str(handler)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
