"""The service's own operations: its health and the Swagger UI of its OpenAPI document (exhaust.api.routes)."""

from __future__ import annotations

from pydantic import BaseModel

from exhaust import __version__
from exhaust.api.http import RawResponse
from exhaust.api.operation import operation
from exhaust.api.swagger import HTML, swagger_answer

# The document by a relative URL, so the page works under any stage prefix.
DOCS_SETUP = '    window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui"});'


class Health(BaseModel):
    healthy: bool
    version: str


@operation("GET /api/health", "api.health", "Service health")
def health() -> Health:
    return Health(healthy=True, version=__version__)


@operation("GET /api/docs", "api.docs", "Swagger UI of the API", media_type=HTML)
def docs() -> RawResponse:
    return swagger_answer("Data exhaust service API", DOCS_SETUP)
