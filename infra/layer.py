"""Stage the shared package as a Lambda layer directory at synth time, without Docker.

The layer holds only our pure-Python package; pydantic, fastjsonschema and the X-Ray SDK come with the
official Powertools layer, and boto3 with the Lambda runtime (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "layers" / "exhaust"
# Local mode and the CLI are not shipped: they need moto and are never imported by a Lambda; nor is the smoke test.
EXCLUDED = ("__pycache__", "*.pyc", "local", "cli.py", "smoke.py")


def _digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def stage_layer(build_dir: Path | None = None) -> Path:
    """The package in the layout Lambda layers use (<dir>/python/exhaust), under <build_dir>/<content hash>.

    Staged in a private temporary directory, then renamed into place: synths running at once (test workers)
    never remove or half-write a directory another one is reading, and the same content is staged only once.
    """
    build_dir = build_dir or REPO_ROOT / ".build" / "layer"
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    shutil.copytree(PACKAGE_DIR, staging / "python" / "exhaust", ignore=shutil.ignore_patterns(*EXCLUDED))
    target = build_dir / _digest(staging)
    try:
        staging.rename(target)
    except OSError:  # already staged (by this or a concurrent synth): the same bytes
        shutil.rmtree(staging)
    return target
