"""The one Swagger UI page builder, for /api/docs and /api/export/ui, that works with no network.

swagger-ui's script and stylesheet are inlined from the copy Powertools ships (Apache-2.0, the package every API
Lambda already has from the Powertools layer), so the page needs nothing but itself: no CDN, nothing to fetch.
That costs about 1.7 MB a page view, well under Lambda's 6 MB response payload quota
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from exhaust.responses import RawResponse

SCRIPT_FILE = "swagger-ui-bundle.min.js"
STYLE_FILE = "swagger-ui.min.css"
HTML = "text/html"


def assets_dir() -> Path:
    # Located without importing Powertools' event handler: its import would cost every docs cold start.
    spec = importlib.util.find_spec("aws_lambda_powertools")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("aws_lambda_powertools is not installed: the Swagger UI assets come from it")
    return Path(next(iter(spec.submodule_search_locations))) / "event_handler" / "openapi" / "swagger_ui"


@lru_cache(maxsize=2)
def asset(name: str) -> str:
    return (assets_dir() / name).read_text(encoding="utf-8")


def swagger_page(title: str, setup_script: str) -> str:
    """A page showing Swagger UI; `setup_script` calls SwaggerUIBundle({..., dom_id: "#swagger-ui"})."""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <style>{asset(STYLE_FILE)}</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script>{asset(SCRIPT_FILE)}</script>
  <script>
{setup_script}
  </script>
</body>
</html>
"""


def swagger_answer(title: str, setup_script: str) -> RawResponse:
    return RawResponse(
        200, swagger_page(title, setup_script).encode("utf-8"), {"Content-Type": f"{HTML}; charset=utf-8"}
    )
