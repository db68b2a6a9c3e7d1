"""The OpenAPI 3.1 document of the whole service, generated from the route table and the pydantic models.

Every route of the table appears; a route without a model entry here is still documented with its envelope and
the statuses its kind of route can answer, so adding a route never leaves the document incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from exhaust import __version__
from exhaust.api import schemas
from exhaust.api.routes import ROUTES, Route
from exhaust.datasets.registry import Dataset
from exhaust.legacy.rules import LegacyRequestBody
from exhaust.requests.models import JobStatusResponse
from exhaust.standard.files import DatasetFiles

STATUS_TEXT = {
    200: "OK",
    204: "No content: the filters leave no rows",
    303: "See Other: the answer is large; follow Location (a presigned link)",
    400: "Invalid input: errmsg names the field and the rule",
    401: "Missing, unknown, expired or revoked credentials",
    403: "The credentials may not do this (channel, role or admin-only)",
    404: "Not found (or not yours)",
    409: "Conflict: Idempotency-Key reused with a different body (submit), or the request's status does not allow "
    "the operation (cancel: SUCCESS or FAILED; delete: still SUBMITTED or PROCESSING)",
    413: "Body over 256 KiB",
    422: "Valid, but too big to answer within API Gateway's 29 s: errmsg says how to narrow it",
    429: "Too many requests: the stage's throttling, or (submit) the channel's open-request limit; see Retry-After",
    500: "Internal error (logged; no details are returned)",
}


@dataclass(frozen=True)
class Operation:
    body: type[BaseModel] | None = None
    result: type[BaseModel] | None = None
    extra_statuses: tuple[int, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    tag: str = "exhaust requests"
    content: dict[str, Any] = field(default_factory=dict)


# The legacy and export APIs answer zips (docs/legacy-and-export.md).
_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}

OPERATIONS: dict[str, Operation] = {
    "submit": Operation(
        body=schemas.SubmitBody,
        result=JobStatusResponse,
        extra_statuses=(409, 429),
        headers=(
            ("Idempotency-Key", "Replays the first answer for 24 hours; another body under the same key is a 409"),
            ("X-Authenticated-Userid", "requestedBy, for tokens with the ON_BEHALF role"),
        ),
    ),
    "read": Operation(result=JobStatusResponse, extra_statuses=(404,)),
    "list": Operation(result=schemas.JobList),
    "search": Operation(body=schemas.SearchBody, result=schemas.JobList),
    "cancel": Operation(result=JobStatusResponse, extra_statuses=(404, 409)),
    "delete": Operation(result=JobStatusResponse, extra_statuses=(404, 409)),
    "dataset_add": Operation(body=schemas.DatasetAddBody, tag="dataset registry"),
    "dataset_list": Operation(result=schemas.DatasetList, tag="dataset registry"),
    "dataset_get": Operation(
        result=DatasetFiles,
        extra_statuses=(404,),
        tag="standard and public datasets",
    ),
    "public_dataset_get": Operation(
        result=DatasetFiles,
        extra_statuses=(404,),
        headers=(("X-Channel-Id", "The channel whose files to list (datasets with files per channel)"),),
        tag="standard and public datasets",
    ),
    "legacy": Operation(
        body=LegacyRequestBody,
        extra_statuses=(303, 401, 403, 422),
        content=_ZIP,
        tag="legacy dataset API",
    ),
    "export": Operation(
        extra_statuses=(204, 303, 422, 429),
        content=_ZIP,
        tag="export",
    ),
    "export_ui": Operation(tag="export", content={"text/html": {"schema": {"type": "string"}}}),
    "health": Operation(tag="service"),
    "openapi": Operation(tag="service"),
    "docs": Operation(tag="service", content={"text/html": {"schema": {"type": "string"}}}),
}


def statuses_of(route: Route, operation: Operation) -> list[int]:
    # 429: API Gateway's stage throttling can refuse any route (submit also has its per-channel limit).
    # 400: every route refuses unknown query parameters and path parameters outside the identifier pattern.
    statuses = {200, 400, 429, 500, *operation.extra_statuses}
    if route.auth == "token":
        statuses |= {400, 401, 403}
    if route.method in ("POST", "PUT"):
        statuses |= {400, 413}
    if "{" in route.path:
        statuses.add(400)
    return sorted(statuses)


def _parameters(route: Route, operation: Operation) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for segment in route.path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parameters.append({"name": segment[1:-1], "in": "path", "required": True, "schema": {"type": "string"}})
    for name, description in route.query:
        parameters.append({"name": name, "in": "query", "description": description, "schema": {"type": "string"}})
    if route.auth == "token":
        parameters.append(
            {
                "name": "X-Channel-Id",
                "in": "header",
                "description": "The channel (organisation id) you act for",
                "schema": {"type": "string"},
            }
        )
    for name, description in operation.headers:
        parameters.append({"name": name, "in": "header", "description": description, "schema": {"type": "string"}})
    return parameters


def _collect(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    _collect(schemas.ResponseParams, components)
    paths: dict[str, dict[str, Any]] = {}
    seen_functions: dict[str, int] = {}
    for route in ROUTES:
        # A function serving several routes (the legacy API with and without dates) needs unique operation ids.
        seen_functions[route.function] = seen_functions.get(route.function, 0) + 1
        count = seen_functions[route.function]
        operation = OPERATIONS.get(route.function, Operation(tag=route.function.replace("_", " ")))
        result_ref = _collect(operation.result, components) if operation.result else None
        responses: dict[str, Any] = {}
        for status in statuses_of(route, operation):
            if status == 200:
                content = operation.content or {
                    "application/json": {"schema": schemas.envelope_schema(result_ref or {"type": "object"})}
                }
                responses["200"] = {"description": STATUS_TEXT[200], "content": content}
            elif status in (204, 303):
                responses[str(status)] = {"description": STATUS_TEXT[status]}
            else:
                responses[str(status)] = {
                    "description": STATUS_TEXT[status],
                    "content": {"application/json": {"schema": schemas.envelope_schema(None)}},
                }
        spec: dict[str, Any] = {
            "operationId": route.function if count == 1 else f"{route.function}_{count}",
            "summary": route.summary,
            "tags": [operation.tag],
            "parameters": _parameters(route, operation),
            "responses": responses,
            "x-api-id": route.api_id,
        }
        if operation.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _collect(operation.body, components)}},
            }
        spec["security"] = [{"bearer": []}] if route.auth == "token" else []
        paths.setdefault(route.path, {})[route.method.lower()] = spec
    _collect(Dataset, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Data exhaust service",
            "version": __version__,
            "description": "On-demand encrypted exports, standard and public datasets, the legacy dataset API and "
            "the format export API. Every JSON answer uses the envelope {id, ver, ts, params, responseCode, result}.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return build_document()
