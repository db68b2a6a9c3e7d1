"""The rules of the house from ARCHITECTURE.md that code review alone would let slip."""

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_api_handlers_never_import_pyarrow():
    for handler in (REPO_ROOT / "functions").glob("*/handler.py"):
        if handler.parent.name == "builder":
            continue
        assert "pyarrow" not in imported_modules(handler), handler


def test_shared_package_never_imports_handler_code():
    for module in (REPO_ROOT / "layers" / "exhaust").rglob("*.py"):
        assert "functions" not in imported_modules(module), module


def test_no_client_is_created_at_import_time():
    # The runtime, the handlers, and the dev kit and client (which run the same code on a machine).
    folders = ("layers", "functions", "devkit/exhaust_devkit", "client/exhaust_client")
    for module in [path for folder in folders for path in (REPO_ROOT / folder).rglob("*.py")]:
        tree = ast.parse(module.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                called = ast.unparse(node.value.func)
                assert not called.startswith(("boto3.", "aws.client", "aws.resource")), (module, called)
