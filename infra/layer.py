"""Stage the shared package as a Lambda layer directory at synth time, without Docker.

The layer holds only our pure-Python package; pydantic, fastjsonschema and the X-Ray SDK come with the
official Powertools layer, and boto3 with the Lambda runtime (docs/decisions.md).

It ships bytecode compiled by the runtime's Python: Lambda's code is read-only, so a module without a valid
`.pyc` is compiled from source at every cold start and the result thrown away (about 50-60 ms of each handler's
import). The `.pyc` files are checked-hash ones (PEP 552): valid whatever times the asset zip gives the files,
never used for a source they were not compiled from.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "layers" / "exhaust"
# Local mode and the CLI are not shipped: they need moto and are never imported by a Lambda; nor is the smoke test.
EXCLUDED = ("__pycache__", "*.pyc", "local", "cli.py", "smoke.py")
# The functions' runtime (infra.service_function.RUNTIME): a `.pyc` of another Python version is ignored.
RUNTIME_PYTHON = "3.12"
# Where a layer's python/ directory is mounted in the function: tracebacks name the files there.
LAYER_MOUNT = "/opt/python"
# An interpreter of the runtime's version, when it is not `python3.12` on PATH or under pyenv.
LAYER_PYTHON_VARIABLE = "EXHAUST_LAYER_PYTHON"


@functools.cache
def runtime_python() -> str | None:
    """A Python of the runtime's version to compile the layer with, or None when this machine has none."""
    version = RUNTIME_PYTHON
    candidates = [os.environ.get(LAYER_PYTHON_VARIABLE), shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run(  # noqa: S603 - an interpreter named by the operator or found on this machine
                [candidate, "-c", "import sys; print('{}.{}'.format(*sys.version_info))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    return None


def _digest(directory: Path, python: str | None) -> str:
    """The layer's identity: its sources, and whether they ship bytecode (the `.pyc` bytes are not reproducible)."""
    digest = hashlib.sha256(f"bytecode {RUNTIME_PYTHON}\0".encode() if python else b"sources only\0")
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def compile_bytecode(python_dir: Path, python: str) -> None:
    """Checked-hash `.pyc` files beside every module of `python_dir`, naming the files as mounted in Lambda."""
    command = [python, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash"]
    subprocess.run(  # noqa: S603 - the runtime's interpreter with fixed arguments
        [*command, "-s", str(python_dir), "-p", LAYER_MOUNT, str(python_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def stage_layer(build_dir: Path | None = None, python: str | None = None) -> Path:
    """The package in the layout Lambda layers use (<dir>/python/exhaust), under <build_dir>/<content hash>.

    With `python`, an interpreter of the runtime's version (`runtime_python`), the layer carries its bytecode;
    without, sources only (`layer_has_bytecode` tells which). Staged in a private
    temporary directory, then renamed into place: synths running at once (test workers) never remove or
    half-write a directory another one is reading, and the same content is staged only once.
    """
    build_dir = build_dir or REPO_ROOT / ".build" / "layer"
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    shutil.copytree(PACKAGE_DIR, staging / "python" / "exhaust", ignore=shutil.ignore_patterns(*EXCLUDED))
    target = build_dir / _digest(staging, python)
    if target.exists():
        shutil.rmtree(staging)
        return target
    if python:
        compile_bytecode(staging / "python", python)
    try:
        staging.rename(target)
    except OSError:  # staged by a concurrent synth meanwhile: the same sources
        shutil.rmtree(staging)
    return target


def layer_has_bytecode(layer: Path) -> bool:
    return any(layer.glob("python/exhaust/__pycache__/*.pyc"))


def asset_hash(layer: Path) -> str:
    """The layer asset's hash: its directory name, the digest of its sources (not of the `.pyc` bytes)."""
    return layer.name
