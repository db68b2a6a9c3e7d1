"""The OpenAPI 3.1 document of the whole service, generated from the route table and the models it names.

Nothing here describes one route: parameters, bodies, results, statuses and tags all come from the routes of
exhaust.api.routes; the models that validate the bodies (exhaust.validation) are the schemas of the document.
The statuses every route of its kind answers are added here, by the rule that makes them (`statuses_of`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from exhaust import __version__
from exhaust.api import schemas
from exhaust.api.routes import ROUTES, Param, Route
from exhaust.auth.checks import CHANNEL_HEADER
from exhaust.identifiers import IDENTIFIER_RULE
from exhaust.validation import IDENTIFIER_PATTERN

STATUS_TEXT = {
    200: "OK",
    204: "No content",
    303: "See Other: the answer is large; follow Location (a presigned link)",
    400: "Invalid input: errmsg names the field and the rule",
    401: "Missing, unknown, expired or revoked credentials",
    403: "The credentials may not do this (channel, role or admin-only)",
    404: "Not found (or not yours)",
    408: "The body did not arrive in time (the gateway waits 30 s for it)",
    409: "Conflict",
    413: "Body over 256 KiB",
    422: "Valid, but too big to answer",
    429: "Too many requests: the stage's throttling; see Retry-After",
    500: "Internal error (logged; no details are returned)",
}
# Answered without a body.
EMPTY_STATUSES = (204, 303)
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
JSON = "application/json"


def model(reference: str) -> type[BaseModel]:
    """The model a route names as "module:Model"."""
    module, _, name = reference.partition(":")
    found = getattr(importlib.import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise TypeError(f"{reference} is not a pydantic model")
    return found


@dataclass
class Components:
    """The schemas of the document, each model once, referenced as #/components/schemas/<Model>."""

    schemas: dict[str, Any] = field(default_factory=dict)

    def ref(self, reference: type[BaseModel] | str) -> dict[str, Any]:
        found = model(reference) if isinstance(reference, str) else reference
        schema = found.model_json_schema(ref_template="#/components/schemas/{model}")
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[found.__name__] = schema
        return {"$ref": f"#/components/schemas/{found.__name__}"}


def statuses_of(route: Route) -> dict[int, str]:
    """Every status the route answers, with what it means there."""
    # 400: every route refuses unknown query parameters and path parameters outside the identifier pattern.
    # 429: API Gateway's stage throttling can refuse any route. 500: any unexpected failure.
    statuses = {status: STATUS_TEXT[status] for status in (200, 400, 429, 500)}
    if route.auth == "token":
        statuses |= {401: STATUS_TEXT[401], 403: STATUS_TEXT[403]}
    if route.method == "POST":
        statuses |= {408: STATUS_TEXT[408], 413: STATUS_TEXT[413]}
    for outcome in route.statuses:
        statuses[outcome.status] = outcome.description or STATUS_TEXT[outcome.status]
    return dict(sorted(statuses.items()))


def _parameter(param: Param, where: str, *, required: bool = False) -> dict[str, Any]:
    spec = {"name": param.name, "in": where, "description": param.description, "schema": param.schema}
    return {**spec, "required": True} if required else spec


def path_parameters(route: Route) -> list[dict[str, Any]]:
    """Each {name} of the path: its own description and schema, else the identifier rule all of them follow."""
    described = {param.name: param for param in route.path_params}
    identifier = {"type": "string", "pattern": IDENTIFIER_PATTERN}
    parameters = []
    for name in PATH_PARAMETER.findall(route.path):
        own = described.get(name, Param(name, IDENTIFIER_RULE))
        schema = {**identifier, **own.schema}
        parameters.append(_parameter(Param(name, own.description, schema), "path", required=True))
    return parameters


def parameters_of(route: Route) -> list[dict[str, Any]]:
    parameters = path_parameters(route)
    parameters += [_parameter(param, "query") for param in route.query]
    if route.auth == "token":
        parameters.append(_parameter(Param(CHANNEL_HEADER, "The channel (organisation id) you act for"), "header"))
    parameters += [_parameter(param, "header") for param in route.headers]
    return parameters


def success_content(route: Route, components: Components) -> dict[str, Any]:
    if route.media_type != JSON:
        return {route.media_type: {"schema": {"type": "string", "format": "binary"}}}
    if not route.enveloped:
        return {JSON: {"schema": {"type": "object"}}}
    result = components.ref(route.result) if route.result else {"type": "object"}
    return {JSON: {"schema": schemas.envelope_schema(result)}}


def responses_of(route: Route, components: Components) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in statuses_of(route).items():
        answer: dict[str, Any] = {"description": description}
        if status == 200:
            answer["content"] = success_content(route, components)
        elif status == 303:
            answer["headers"] = {"Location": {"description": "The presigned link", "schema": {"type": "string"}}}
        elif status not in EMPTY_STATUSES:
            answer["content"] = {JSON: {"schema": schemas.envelope_schema(None)}}
        responses[str(status)] = answer
    return responses


def operation_of(route: Route, operation_id: str, components: Components) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters_of(route),
        "responses": responses_of(route, components),
        "security": [{"bearer": []}] if route.auth == "token" else [],
        "x-api-id": route.api_id,
    }
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": components.ref(route.body)}}}
    return operation


def operation_ids(routes: tuple[Route, ...]) -> Iterator[tuple[Route, str]]:
    """The function's name, numbered from the second route a function serves (the legacy API with and without dates)."""
    seen: dict[str, int] = {}
    for route in routes:
        seen[route.function] = seen.get(route.function, 0) + 1
        count = seen[route.function]
        yield route, route.function if count == 1 else f"{route.function}_{count}"


def build_document() -> dict[str, Any]:
    components = Components()
    components.ref(schemas.ResponseParams)
    paths: dict[str, dict[str, Any]] = {}
    for route, operation_id in operation_ids(ROUTES):
        paths.setdefault(route.path, {})[route.method.lower()] = operation_of(route, operation_id, components)
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
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return build_document()
