"""The shared layer ships bytecode that Lambda's Python uses as it is (docs/decisions.md)."""

import json
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match

from infra.layer import LAYER_MOUNT, RUNTIME_PYTHON, layer_has_bytecode, runtime_python, stage_layer
from infra.service_function import RUNTIME
from infra.stack import LAYER_WITHOUT_BYTECODE, shared_package_layer

# Run by the runtime's Python: what its importer checks before it uses a .pyc instead of compiling the source.
CHECK_BYTECODE = """
import importlib.util, json, marshal, pathlib, sys
problems = []
modules = sorted(pathlib.Path(sys.argv[1]).rglob("*.py"))
for source in modules:
    cached = pathlib.Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        problems.append(f"{source.name}: no {cached.name}")
        continue
    data = cached.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    if data[:4] != importlib.util.MAGIC_NUMBER or flags != 0b11:
        problems.append(f"{cached.name}: not a checked-hash pyc of this Python")
    elif data[8:16] != importlib.util.source_hash(source.read_bytes()):
        problems.append(f"{cached.name}: compiled from another source")
    elif not marshal.loads(data[16:]).co_filename.startswith(sys.argv[2]):
        problems.append(f"{cached.name}: names {marshal.loads(data[16:]).co_filename}")
print(json.dumps({"modules": len(modules), "problems": problems}))
"""


@pytest.fixture(scope="module")
def python312() -> str:
    found = runtime_python()
    if found is None:
        pytest.skip(f"no Python {RUNTIME_PYTHON} on this machine (set EXHAUST_LAYER_PYTHON)")
    return found


def test_the_layer_is_compiled_for_the_functions_runtime() -> None:
    assert RUNTIME.name == f"python{RUNTIME_PYTHON}"


def test_every_module_of_the_layer_has_bytecode_its_runtime_accepts(tmp_path: Path, python312: str) -> None:
    layer = stage_layer(tmp_path, python=python312)
    package = layer / "python"
    answer = subprocess.run(
        [python312, "-c", CHECK_BYTECODE, str(package), f"{LAYER_MOUNT}/exhaust/"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(answer.stdout)
    assert report["modules"] > 50
    assert report["problems"] == []


def test_the_layer_asset_is_named_by_its_sources(tmp_path: Path, python312: str) -> None:
    with_bytecode = stage_layer(tmp_path / "a", python=python312)
    again = stage_layer(tmp_path / "b", python=python312)
    sources_only = stage_layer(tmp_path / "c")
    assert with_bytecode.name == again.name  # a new synth does not publish a new layer version
    assert layer_has_bytecode(with_bytecode)
    assert not layer_has_bytecode(sources_only)
    assert sources_only.name != with_bytecode.name
    assert not list(sources_only.rglob("*.pyc"))


def test_a_synth_without_the_runtimes_python_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.stack

    monkeypatch.setattr(infra.stack, "runtime_python", lambda: None)
    stack = Stack(App(), "LayerOnly")
    shared_package_layer(stack)
    Annotations.from_stack(stack).has_warning(
        "/LayerOnly/SharedPackageLayer",
        Match.string_like_regexp(f"no Python {RUNTIME_PYTHON} found.*{LAYER_WITHOUT_BYTECODE}"),
    )
