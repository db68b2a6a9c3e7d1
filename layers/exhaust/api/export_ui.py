"""The export API's own Swagger UI page: the export operation of the service's OpenAPI document, inlined in the page.

Its entry is generated from the operation's declaration by the generator of the service's document, as there.
"""

from __future__ import annotations

import json
from typing import Any

from exhaust.api.export import export
from exhaust.api.http import RawResponse
from exhaust.api.openapi import build_document
from exhaust.api.operation import operation
from exhaust.api.swagger import HTML, swagger_answer


def export_document() -> dict[str, Any]:
    whole = build_document((export,))
    return {
        "openapi": whole["openapi"],
        "info": {
            **whole["info"],
            "title": "Export API",
            "description": "Export the data lake's observations into CKAN-compliant CSV, JSON or XML, zipped "
            "with a Frictionless datapackage.json. Open to anyone; throttled.",
        },
        "paths": whole["paths"],
        "components": whole["components"],
    }


@operation("GET /api/export/ui", "api.export.ui", "Swagger UI of the export API", tag="export", media_type=HTML)
def export_ui() -> RawResponse:
    return swagger_answer("Export API", setup_script())


def setup_script() -> str:
    spec = json.dumps(export_document()).replace("</", "<\\/")
    setup = f"""    // "Try it out" calls the API this page came from, under whatever stage prefix it is served.
    const spec = {spec};
    const base = window.location.pathname.replace(/\\/api\\/export\\/ui\\/?$/, "");
    spec.servers = [{{url: window.location.origin + base}}];
    window.ui = SwaggerUIBundle({{spec: spec, dom_id: "#swagger-ui"}});"""
    return setup
