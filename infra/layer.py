"""Stage the shared package as a Lambda layer directory at synth time, without Docker.

The layer holds only our pure-Python package; pydantic, fastjsonschema and the X-Ray SDK come with the
official Powertools layer, and boto3 with the Lambda runtime (docs/decisions.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "layers" / "exhaust"
# Local mode and the CLI are not shipped: they need moto and are never imported by a Lambda; nor is the smoke test.
EXCLUDED = ("__pycache__", "*.pyc", "local", "cli.py", "smoke.py")


def stage_layer(build_dir: Path | None = None) -> Path:
    """Copy the package to <build_dir>/python/exhaust (the layout Lambda layers use); answer <build_dir>."""
    build_dir = build_dir or REPO_ROOT / ".build" / "layer"
    target = build_dir / "python" / "exhaust"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns(*EXCLUDED))
    return build_dir
