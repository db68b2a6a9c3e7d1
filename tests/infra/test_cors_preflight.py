"""The CORS preflight API Gateway answers is the local gateway's (exhaust.api.cors): one synthesis with origins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from exhaust.api import cors
from exhaust.api.routes import ROUTES
from exhaust_devkit.local.gateway import allowed_methods

from .walk import methods, service_functions

ORIGINS = ("https://portal.example.org", "http://localhost:3000")


@pytest.fixture(scope="module")
def cors_resources(tmp_path_factory) -> dict[str, dict[str, Any]]:
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out.cors")
    app, stack = build_app({"cors_allowed_origins": ",".join(ORIGINS)}, outdir=str(outdir), checks=False)
    app.synth()
    return json.loads((outdir / f"{stack.stack_name}.template.json").read_text())["Resources"]


def test_no_preflight_is_answered_by_default(resources):
    assert not [key for key in methods(resources) if key[0] == "OPTIONS"]


def test_every_route_path_answers_the_local_gateways_preflight(cors_resources):
    preflights = {path: method for (verb, path), method in methods(cors_resources).items() if verb == "OPTIONS"}
    assert set(preflights) == {route.path for route in ROUTES}
    for path, method in preflights.items():
        assert method["AuthorizationType"] == "NONE"
        answer = method["Integration"]["IntegrationResponses"][0]
        synthesized = {
            name.removeprefix("method.response.header."): value.strip("'")
            for name, value in answer["ResponseParameters"].items()
        }
        local = cors.preflight_headers(allowed_methods(path), ORIGINS[0], ORIGINS)
        assert (int(answer["StatusCode"]), synthesized) == (cors.PREFLIGHT_STATUS, local)
        # Another allowed origin is answered as itself (the template's override), as the local gateway does.
        template = answer["ResponseTemplates"]["application/json"]
        assert all(f'"{origin}"' in template for origin in ORIGINS[1:])
        assert (
            cors.preflight_headers(allowed_methods(path), ORIGINS[1], ORIGINS)["Access-Control-Allow-Origin"]
            == (ORIGINS[1])
        )


def test_functions_get_the_allowed_origins(cors_resources):
    functions = [
        resource["Properties"]
        for resource in service_functions(cors_resources).values()
        if "Environment" in resource["Properties"]
    ]
    variables = [function["Environment"]["Variables"].get("EXHAUST_CORS_ALLOWED_ORIGINS") for function in functions]
    assert variables
    assert set(variables) == {",".join(ORIGINS)}
