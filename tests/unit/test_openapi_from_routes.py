"""The document is built from the declarations alone: what an operation's signature says is what the document says."""

from __future__ import annotations

import inspect
import re
from typing import Annotated

import pytest
from exhaust.api import cancel_and_delete, courses, datasets, export, export_ui, legacy, meta, requests, standard
from exhaust.api.openapi import Components, build_document, operation_of, statuses_of
from exhaust.api.operation import Header, Operation, Outcome, Path, Query, operation
from exhaust.api.parameters import Identifier
from exhaust.api.routes import ROUTES
from exhaust.principal import Principal
from exhaust.requests.models import JobList
from exhaust.requests.rules import SearchBody
from pydantic import BaseModel, Field


class Thing(BaseModel):
    name: str


def things(statuses: tuple[Outcome, ...] = ()) -> Operation:
    @operation("GET /api/things/{thingId}", "api.things", "Things", statuses=statuses)
    def get_thing(thing_id: Annotated[Identifier, Path("The thing", "thingId")]) -> Thing:
        return Thing(name=thing_id)

    return get_thing


def test_a_legacy_style_operation_at_a_second_path_leaves_out_the_parameters_it_lacks() -> None:
    @operation("POST /x/{a}/{b}", "x", "x")
    def both(a: Annotated[Identifier, Path("A")], b: Annotated[Identifier | None, Path("B")] = None) -> Thing:
        return Thing(name=f"{a}{b}")

    only_a = both.also_at("/x/{a}", "x without b")
    assert [item.name for item in only_a.inputs] == ["a"]
    assert only_a.summary == "x without b"
    (parameter,) = operation_of(only_a, "x_2", Components())["parameters"]
    assert parameter["name"] == "a"
    assert [p["required"] for p in operation_of(both, "x", Components())["parameters"]] == [True, True]
    with pytest.raises(TypeError):
        both.also_at("/x", "x without a")  # a has no default: it cannot be left out


def test_an_operations_own_status_and_its_meaning_reach_the_document() -> None:
    statuses = statuses_of(things(statuses=(Outcome(404, "No such thing"), Outcome(409))))
    assert statuses[404] == "No such thing"
    assert statuses[409] == "Conflict"
    assert {200, 400, 429, 500} <= set(statuses)
    assert 401 not in statuses


def test_the_statuses_of_an_operations_kind_are_added_by_rule() -> None:
    @operation("POST /api/things", "api.things", "Add", auth="token")
    def add(principal: Principal, body: SearchBody) -> JobList:
        raise NotImplementedError

    assert {401, 403, 408, 413} <= set(statuses_of(add))
    assert not {401, 413} & set(statuses_of(things()))


def test_parameters_are_the_signatures_with_their_constraints_and_required_when_they_have_no_default() -> None:
    @operation("GET /api/things/{thingId}", "api.things", "Things")
    def get_thing(
        thing_id: Annotated[Identifier, Path("The thing", "thingId")],
        key: Annotated[str, Field(max_length=5), Header("A key", "X-Key")],
        limit: Annotated[int, Field(ge=1, le=9), Query("Per page")] = 3,
        cursor: Annotated[str | None, Query("Next page")] = None,
    ) -> Thing:
        raise NotImplementedError

    spec = operation_of(get_thing, "things", Components())
    by_name = {parameter["name"]: parameter for parameter in spec["parameters"]}
    assert [(p["name"], p["in"], p.get("required", False)) for p in spec["parameters"]] == [
        ("thingId", "path", True), ("limit", "query", False), ("cursor", "query", False), ("X-Key", "header", True),
    ]  # fmt: skip
    assert by_name["X-Key"]["schema"] == {"type": "string", "maxLength": 5}
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 9, "default": 3}
    assert by_name["cursor"]["schema"] == {"type": "string"}  # None stands for its absence, never sent
    assert by_name["thingId"]["description"] == "The thing"


def test_body_and_result_are_the_signatures_models_the_result_in_the_envelope() -> None:
    @operation("POST /api/things", "api.things", "Search", auth="token")
    def search_things(principal: Principal, body: SearchBody) -> JobList:
        raise NotImplementedError

    components = Components()
    spec = operation_of(search_things, "things", components)
    assert spec["requestBody"]["required"] is True
    assert spec["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SearchBody"}
    envelope = spec["responses"]["200"]["content"]["application/json"]["schema"]
    assert envelope["properties"]["result"]["$ref"] == "#/components/schemas/JobList"
    assert set(envelope["required"]) == {"id", "ver", "ts", "params", "responseCode"}
    refused = spec["responses"]["400"]["content"]["application/json"]["schema"]
    assert "result" not in refused["properties"]
    assert {"SearchBody", "SearchFilters", "JobList", "ResponseParams"} <= set(components.schemas)


@pytest.mark.parametrize(
    ("declare", "problem"),
    [
        # A path parameter the signature does not declare.
        (lambda: operation("GET /x/{a}", "x", "x")(no_parameter), "path parameters ['a'] declared as []"),
        (lambda: operation("GET /x", "x", "x")(public_with_principal), "only a token route has a Principal"),
        (lambda: operation("GET /x", "x", "x")(undeclared_parameter), "limit: declare it as"),
        (lambda: operation("PUT /x", "x", "x")(no_parameter), "GET or POST"),
    ],
)
def test_a_declaration_that_cannot_be_served_is_refused_at_import(declare, problem) -> None:
    with pytest.raises(TypeError, match=re.escape(problem)):
        declare()


def no_parameter() -> Thing:
    raise NotImplementedError


def public_with_principal(principal: Principal) -> Thing:
    raise NotImplementedError


def undeclared_parameter(limit: int) -> Thing:
    raise NotImplementedError


def test_the_route_table_holds_every_declared_operation_once() -> None:
    modules = (cancel_and_delete, courses, datasets, export, export_ui, legacy, meta, requests, standard)
    found = (value for module in modules for _, value in inspect.getmembers(module, Operation.__instancecheck__))
    declared = {id(value) for value in found}  # a module may import another's operation
    assert declared <= set(map(id, ROUTES))
    assert len({(route.method, route.path) for route in ROUTES}) == len(ROUTES)
    assert len(ROUTES) == len(declared) + 1  # and the document's own page, declared with the table


def test_each_operation_is_one_entry_of_the_document() -> None:
    document = build_document(ROUTES)
    entries = [(method.upper(), path) for path, methods in document["paths"].items() for method in methods]
    assert sorted(entries) == sorted((route.method, route.path) for route in ROUTES)
