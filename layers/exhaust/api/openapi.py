"""The OpenAPI 3.1 document of the whole service, generated from the declared operations (exhaust.api.operation).

Nothing here describes one operation: its parameters, body, result, statuses and tag are read from its
declaration, the schemas from the same types and models that validate the requests (exhaust.validation) and
build the answers (exhaust.api.envelope). The statuses every operation of its kind answers are added here, by the
rule that makes them (`statuses_of`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from exhaust import __version__
from exhaust.api.envelope import Envelope
from exhaust.api.operation import JSON, Input, Operation

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
REF_TEMPLATE = "#/components/schemas/{model}"


@dataclass
class Components:
    """The schemas of the document, each model once, referenced as #/components/schemas/<Model>."""

    schemas: dict[str, Any] = field(default_factory=dict)

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        """The model's own schema, written in place; the models it names go to the components."""
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        self.schemas.update(schema.pop("$defs", {}))
        return schema

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        self.schemas[model.__name__] = self.inline(model)
        return {"$ref": REF_TEMPLATE.format(model=model.__name__)}

    def envelope(self, result: type[BaseModel] | None) -> dict[str, Any]:
        """The envelope of an answer: Envelope[result], or Envelope[None] for one without a result (refusals)."""
        schema = self.inline(Envelope[result] if result is not None else Envelope[None])  # type: ignore[valid-type]
        schema.pop("title", None)
        return schema


def statuses_of(operation: Operation) -> dict[int, str]:
    """Every status the operation answers, with what it means there."""
    # 400: every operation refuses unknown query parameters and path parameters outside the identifier pattern.
    # 429: API Gateway's stage throttling can refuse any route. 500: any unexpected failure.
    statuses = {status: STATUS_TEXT[status] for status in (200, 400, 429, 500)}
    if operation.auth == "token":
        statuses |= {401: STATUS_TEXT[401], 403: STATUS_TEXT[403]}
    if operation.method == "POST":
        statuses |= {408: STATUS_TEXT[408], 413: STATUS_TEXT[413]}
    for outcome in operation.statuses:
        statuses[outcome.status] = outcome.description or STATUS_TEXT[outcome.status]
    return dict(sorted(statuses.items()))


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`X | None` as X: a parameter's None stands for its absence, never sent."""
    choices = schema.get("anyOf", [])
    if {"type": "null"} not in choices or len(choices) != 2:
        return schema
    kept = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**next(choice for choice in choices if choice != {"type": "null"}), **kept}


def parameter_schema(item: Input, components: Components) -> dict[str, Any]:
    """The schema of the values a parameter accepts: its type's, with its default."""
    schema = item.adapter.json_schema(ref_template=REF_TEMPLATE)
    components.schemas.update(schema.pop("$defs", {}))
    schema = without_null(schema)
    if item.default is not None:
        schema["default"] = item.default
    return schema


def parameter(name: str, where: str, description: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    spec = {"name": name, "in": where, "description": description, "schema": schema}
    return {**spec, "required": True} if required else spec


def group_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A query model's fields, each a query parameter."""
    properties = model.model_json_schema(ref_template=REF_TEMPLATE)["properties"]
    parameters = []
    for name, field_info in model.model_fields.items():
        alias = field_info.alias or name
        schema = without_null({key: value for key, value in properties[alias].items() if key != "title"})
        if "default" in schema and schema["default"] is None:
            del schema["default"]  # absent, never sent as null
        description = schema.pop("description", "")
        parameters.append(parameter(alias, "query", description, schema, field_info.is_required()))
    return parameters


def parameters_of(operation: Operation, components: Components) -> list[dict[str, Any]]:
    parameters = []
    for where in ("path", "query", "header"):
        for item in operation.inputs_in(where):
            if item.group is not None:
                parameters += group_parameters(item.group)
                continue
            assert item.param is not None
            schema = parameter_schema(item, components)
            # A path parameter is always required: a route without it is another operation (Operation.also_at).
            required = item.required or where == "path"
            parameters.append(parameter(item.name, where, item.param.description, schema, required))
    return parameters


def success_content(operation: Operation, components: Components) -> dict[str, Any]:
    if operation.media_type != JSON:
        return {operation.media_type: {"schema": {"type": "string", "format": "binary"}}}
    if operation.result is None:
        return {JSON: {"schema": {"type": "object"}}}
    return {JSON: {"schema": components.envelope(operation.result)}}


def responses_of(operation: Operation, components: Components) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in statuses_of(operation).items():
        answer: dict[str, Any] = {"description": description}
        if status == 200:
            answer["content"] = success_content(operation, components)
        elif status == 303:
            answer["headers"] = {"Location": {"description": "The presigned link", "schema": {"type": "string"}}}
        elif status not in EMPTY_STATUSES:
            answer["content"] = {JSON: {"schema": components.envelope(None)}}
        responses[str(status)] = answer
    return responses


def request_body_of(operation: Operation, components: Components) -> dict[str, Any] | None:
    body = operation.body
    if body is not None:
        return {"required": body.required, "content": {JSON: {"schema": components.ref(body.body_model)}}}
    if operation.body_read_as is not None:
        return {"required": True, "content": {JSON: {"schema": components.ref(operation.body_read_as)}}}
    return None


def operation_of(operation: Operation, operation_id: str, components: Components) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operationId": operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": parameters_of(operation, components),
        "responses": responses_of(operation, components),
        "security": [{"bearer": []}] if operation.auth == "token" else [],
        "x-api-id": operation.api_id,
    }
    request_body = request_body_of(operation, components)
    if request_body is not None:
        entry["requestBody"] = request_body
    return entry


def operation_ids(operations: tuple[Operation, ...]) -> Iterator[tuple[Operation, str]]:
    """The function's name, numbered from the second operation a function serves (the legacy API with and without
    dates)."""
    seen: dict[str, int] = {}
    for operation in operations:
        seen[operation.function] = seen.get(operation.function, 0) + 1
        count = seen[operation.function]
        yield operation, operation.function if count == 1 else f"{operation.function}_{count}"


def build_document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    components = Components()
    paths: dict[str, dict[str, Any]] = {}
    for operation, operation_id in operation_ids(operations):
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation_of(
            operation, operation_id, components
        )
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
