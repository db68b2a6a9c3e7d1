"""The browser console's built files (console/ built by `make console` into build/console/), as local mode serves them.

In AWS CloudFront serves the same files from S3 (infra/console.py); here the local gateway answers `/console` with
index.html and `/console/assets/<file>` with the hashed assets, which never change under one name (cached for a year).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from exhaust.errors import NotFound

CONSOLE_PATH = "/console"
CONSOLE_DIR_VARIABLE = "EXHAUST_CONSOLE_DIR"
# devkit/exhaust_devkit/local/console.py -> the repository's build/console/ (an editable install, as `make install`
# makes).
DEFAULT_CONSOLE_DIR = Path(__file__).resolve().parents[3] / "build" / "console"
INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def console_dir() -> Path:
    configured = os.environ.get(CONSOLE_DIR_VARIABLE)
    return Path(configured) if configured else DEFAULT_CONSOLE_DIR


def console_file(path: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a console path, or a 404 that says how to build the console."""
    root = console_dir().resolve()
    if not (root / INDEX).is_file():
        raise NotFound(f"The console is not built in {root}: run `make console` (`make run` builds it)")
    relative = path[len(CONSOLE_PATH) :].lstrip("/") or INDEX
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound(f"No console file {path}")
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type == "application/javascript":
        content_type += "; charset=utf-8"
    cache = REVALIDATE if target.name == INDEX else IMMUTABLE
    return target.read_bytes(), {"Content-Type": content_type, "Cache-Control": cache, **SECURITY_HEADERS}
