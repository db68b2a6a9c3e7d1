"""Stage the Lambda layers at synth time, without Docker: the shared package, and its dependencies.

The package layer holds only our pure-Python package: the runtime distribution's `exhaust` (layers/exhaust), whole.
Local mode, the workflow runner, the lake generators and the `exhaust` command are the dev kit's (devkit/), the
partner client is its own distribution (client/): neither is in this folder, so nothing has to be left out.

Its dependencies (Powertools, pydantic, fastjsonschema, the X-Ray SDK) are a layer of our own too, installed from the
lock's pins as arm64 wheels for the runtime's Python (`stage_dependencies`), unless the stack uses the official
Powertools layer instead (setting `powertools_layer`); boto3 comes with the Lambda runtime (docs/decisions.md).

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
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The runtime distribution's package (pyproject.toml: the packages under layers/).
PACKAGE_DIR = REPO_ROOT / "layers" / "exhaust"
# What a run on this machine leaves beside the sources.
CACHES = ("__pycache__", "*.pyc")
# The functions' runtime (infra.service_function.RUNTIME): a `.pyc` of another Python version is ignored.
RUNTIME_PYTHON = "3.12"
# Where a layer's python/ directory is mounted in the function: tracebacks name the files there.
LAYER_MOUNT = "/opt/python"
# An interpreter of the runtime's version, when it is not `python3.12` on PATH or under pyenv.
LAYER_PYTHON_VARIABLE = "EXHAUST_LAYER_PYTHON"
LOCK_FILE = REPO_ROOT / "requirements.lock"
# What the zip functions import besides our package and boto3 (the runtime's): Powertools with its tracer, and
# pydantic and fastjsonschema with what they need. Each is installed at the version the lock pins.
LAYER_DEPENDENCIES = (
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "wrapt",
    "jmespath",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
    "fastjsonschema",
)
# Lambda's arm64 (Graviton) Linux, as uv names the wheel platform.
WHEEL_PLATFORM = "aarch64-manylinux2014"


class LayerDependenciesUnavailable(RuntimeError):
    """The dependencies layer could not be installed (no network and no cached wheels, or no uv)."""


def locked_version(distribution: str, lock_file: Path = LOCK_FILE) -> str:
    """The version requirements.lock pins for a distribution (the one the tests ran with)."""
    found = re.search(rf"^{re.escape(distribution)}(?:\[[^\]]*\])?==([^\s;]+)", lock_file.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{lock_file.name} pins no {distribution}")
    return found.group(1)


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
    shutil.copytree(PACKAGE_DIR, staging / "python" / "exhaust", ignore=shutil.ignore_patterns(*CACHES))
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


def dependency_pins(lock_file: Path = LOCK_FILE) -> list[str]:
    return [f"{name}=={locked_version(name, lock_file)}" for name in LAYER_DEPENDENCIES]


def _installer() -> str:
    """uv (a dev dependency): beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise LayerDependenciesUnavailable(
            "uv is not installed (make install); or deploy with -c powertools_layer=public"
        )
    return found


def stage_dependencies(build_dir: Path | None = None, python: str | None = None, lock_file: Path = LOCK_FILE) -> Path:
    """The layer's dependencies, installed as Lambda's arm64 wheels for the runtime's Python, under
    <build_dir>/<digest of the pins>/python: staged once per lock, then reused (a synth needs no network after).

    With `python` (the runtime's interpreter) they carry bytecode, as the package layer does.
    """
    build_dir = build_dir or REPO_ROOT / ".build" / "layer-dependencies"
    build_dir.mkdir(parents=True, exist_ok=True)
    pins = dependency_pins(lock_file)
    identity = f"{WHEEL_PLATFORM} {RUNTIME_PYTHON} {'bytecode' if python else 'sources only'}\0" + "\0".join(pins)
    target = build_dir / hashlib.sha256(identity.encode()).hexdigest()[:16]
    if target.exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    command = [_installer(), "pip", "install", "--no-deps", "--only-binary", ":all:", "--quiet"]
    command += ["--python-platform", WHEEL_PLATFORM, "--python-version", RUNTIME_PYTHON]
    try:
        answer = subprocess.run(  # noqa: S603 - uv with the lock's pins
            [*command, "--target", str(staging / "python"), *pins],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if answer.returncode != 0:
            raise LayerDependenciesUnavailable(
                f"could not install the layer's dependencies ({', '.join(pins)}) as {WHEEL_PLATFORM} wheels for "
                f"Python {RUNTIME_PYTHON}: {answer.stderr.strip()[-500:]}\n"
                "A first synth needs PyPI (later ones use the staged copy); or deploy with "
                "-c powertools_layer=public (the official Powertools layer, docs/deploy.md)"
            )
        if python:
            compile_bytecode(staging / "python", python)
        staging.rename(target)
    except OSError:  # staged by a concurrent synth meanwhile: the same pins
        pass
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target
