"""The document is built from the route table alone: what a route says is what the document says of it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from exhaust.api.openapi import Components, model, operation_of, path_parameters, statuses_of
from exhaust.api.routes import ROUTES, Outcome, Param, Route
from pydantic import BaseModel

THINGS = Route("GET", "/api/things/{thingId}", "things", "api.things", "none", "Things")


def route(**changes: Any) -> Route:
    return replace(THINGS, **changes)


def test_a_routes_own_status_and_its_meaning_reach_the_document() -> None:
    statuses = statuses_of(route(statuses=(Outcome(404, "No such thing"), Outcome(409))))
    assert statuses[404] == "No such thing"
    assert statuses[409] == "Conflict"
    assert {200, 400, 429, 500} <= set(statuses)
    assert 401 not in statuses


def test_the_statuses_of_a_routes_kind_are_added_by_rule() -> None:
    assert {401, 403} <= set(statuses_of(route(auth="token")))
    assert {408, 413} <= set(statuses_of(route(method="POST")))
    assert 413 not in statuses_of(route())


def test_path_parameters_follow_the_identifier_rule_unless_the_route_says_more() -> None:
    (plain,) = path_parameters(route())
    assert plain["required"] is True
    assert plain["schema"]["pattern"].startswith("^[A-Za-z0-9]")
    described = route(path_params=(Param("thingId", "The thing", {"type": "string", "pattern": "^t[0-9]+$"}),))
    (own,) = path_parameters(described)
    assert own["description"] == "The thing"
    assert own["schema"]["pattern"] == "^t[0-9]+$"


def test_body_and_result_are_the_models_the_route_names() -> None:
    components = Components()
    spec = operation_of(
        route(method="POST", body="exhaust.requests.rules:SearchBody", result="exhaust.api.schemas:JobList"),
        "things",
        components,
    )
    assert spec["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SearchBody"}
    result = spec["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["result"]
    assert result == {"$ref": "#/components/schemas/JobList"}
    assert {"SearchBody", "SearchFilters", "JobList"} <= set(components.schemas)


def test_every_model_the_table_names_is_a_pydantic_model() -> None:
    named = {reference for r in ROUTES for reference in (r.body, r.result) if reference}
    assert named
    assert all(issubclass(model(reference), BaseModel) for reference in named)
    with pytest.raises(TypeError):
        model("exhaust.api.routes:ROUTES")
