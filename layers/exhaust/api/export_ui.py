"""The export API's own Swagger UI page: the export operation of the service's OpenAPI document, inlined in the page.

The operation is the document's own (generated from the route table like every other one), never rebuilt here.
"""

from __future__ import annotations

import json
from typing import Any

from exhaust.api.openapi import document
from exhaust.api.swagger import swagger_page

EXPORT_PATH = "/api/export/{format}"


def export_document() -> dict[str, Any]:
    whole = document()
    return {
        "openapi": whole["openapi"],
        "info": {
            **whole["info"],
            "title": "Export API",
            "description": "Export the data lake's observations into CKAN-compliant CSV, JSON or XML, zipped "
            "with a Frictionless datapackage.json. Open to anyone; throttled.",
        },
        "paths": {EXPORT_PATH: whole["paths"][EXPORT_PATH]},
        "components": whole["components"],
    }


def page() -> str:
    spec = json.dumps(export_document()).replace("</", "<\\/")
    setup = f"""    // "Try it out" calls the API this page came from, under whatever stage prefix it is served.
    const spec = {spec};
    const base = window.location.pathname.replace(/\\/api\\/export\\/ui\\/?$/, "");
    spec.servers = [{{url: window.location.origin + base}}];
    window.ui = SwaggerUIBundle({{spec: spec, dom_id: "#swagger-ui"}});"""
    return swagger_page("Export API", setup)
