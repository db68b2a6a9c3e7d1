"""The route table: every declared operation (exhaust.api.operation), for API Gateway (infra/api.py), the local
gateway and the OpenAPI document, and the one operation that serves the table itself: the document.

Loading this module loads every operation's module (the document's page needs them all; no other handler loads it).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from exhaust.api import cancel_and_delete, datasets, export, export_ui, legacy, meta, requests, standard
from exhaust.api.http import JSON_HEADERS, RawResponse
from exhaust.api.openapi import build_document
from exhaust.api.operation import Operation, operation


@operation("GET /api/openapi.json", "api.openapi", "OpenAPI 3.1 document of every route", function="openapi")
def openapi_document() -> RawResponse:
    return RawResponse(200, json.dumps(document(), indent=2).encode("utf-8"), dict(JSON_HEADERS))


ROUTES: tuple[Operation, ...] = (
    meta.health,
    openapi_document,
    meta.docs,
    requests.submit,
    requests.read,
    requests.list_requests,
    requests.search,
    cancel_and_delete.cancel,
    cancel_and_delete.delete,
    datasets.add,
    datasets.list_datasets,
    legacy.download,
    legacy.download_yesterday,
    # Before /api/export/{format}: the local gateway takes the first match, as API Gateway prefers static paths.
    export_ui.export_ui,
    export.export,
    standard.standard_get,
    standard.public_get,
)


def find_route(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def paths_for(path: str) -> list[Operation]:
    return [route for route in ROUTES if route.pattern.match(path)]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI document of every operation of the table."""
    return build_document(ROUTES)
