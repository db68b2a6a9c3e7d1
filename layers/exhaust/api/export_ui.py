"""The export API's own Swagger UI page: its part of the service's OpenAPI document, inlined in the page.

The route table gives the generated document the path, summary and operation id; the parameters and answers
seed 003 defines (formats, filters, zip, 204, 303) are spelled out here, next to the code that implements them.
"""

from __future__ import annotations

import json
from typing import Any

from exhaust.api.openapi import document
from exhaust.api.swagger import swagger_page
from exhaust.export.query import FORMATS

EXPORT_PATH_PREFIX = "/api/export/"
UI_PATH = "/api/export/ui"
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseParams"}}}


def _list_parameter(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": f"{description}. Repeat the parameter or separate values with commas.",
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": {"type": "string"}},
        "example": [example],
    }


def _date_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": f"{description} (UTC, ISO 8601 yyyy-mm-dd, inclusive)",
        "schema": {"type": "string", "format": "date"},
    }


PARAMETERS = [
    {
        "name": "format",
        "in": "path",
        "required": True,
        "description": "Output format, case-insensitive",
        "schema": {"type": "string", "enum": [*FORMATS, *(name.lower() for name in FORMATS)]},
    },
    _date_parameter("date_from", "Only data from this date on"),
    _date_parameter("date_to", "Only data up to this date"),
    _list_parameter("types", "Only data of these producer types", "sensor"),
    _list_parameter("units", "Only data in these units of measurement", "celsius"),
]

RESPONSES = {
    "200": {
        "description": "A zip holding observations.<format> (CKAN datastore dump form) and datapackage.json",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    },
    "204": {"description": "Empty dataset: the filters leave no rows"},
    "303": {"description": "The zip is large: follow Location, a presigned link valid for a limited time"},
    "400": {
        "description": "Bad date format (naming date_from or date_to), or Unsupported exportation format "
        "(echoing it and listing CSV, JSON, XML)",
        "content": ERROR_CONTENT,
    },
    "422": {
        "description": "Export too large to answer within API Gateway's 29 s (EXPORT_TOO_LARGE): narrow date_from "
        "and date_to, as the message says",
        "content": ERROR_CONTENT,
    },
    "429": {"description": "Throttled: retry later", "content": ERROR_CONTENT},
}


def export_document() -> dict[str, Any]:
    whole = document()
    paths: dict[str, Any] = {}
    for path, item in whole["paths"].items():
        if not path.startswith(EXPORT_PATH_PREFIX) or path == UI_PATH:
            continue
        operation = {**item["get"], "tags": ["export"], "parameters": PARAMETERS, "responses": RESPONSES}
        operation["security"] = []
        paths[path] = {"get": operation}
    return {
        "openapi": whole["openapi"],
        "info": {
            **whole["info"],
            "title": "Export API",
            "description": "Export the data lake's observations into CKAN-compliant CSV, JSON or XML, zipped "
            "with a Frictionless datapackage.json. Open to anyone; throttled.",
        },
        "paths": paths,
        "components": {"schemas": {"ResponseParams": whole["components"]["schemas"].get("ResponseParams", {})}},
    }


def page() -> str:
    spec = json.dumps(export_document()).replace("</", "<\\/")
    setup = f"""    // "Try it out" calls the API this page came from, under whatever stage prefix it is served.
    const spec = {spec};
    const base = window.location.pathname.replace(/\\/api\\/export\\/ui\\/?$/, "");
    spec.servers = [{{url: window.location.origin + base}}];
    window.ui = SwaggerUIBundle({{spec: spec, dom_id: "#swagger-ui"}});"""
    return swagger_page("Export API", setup)
