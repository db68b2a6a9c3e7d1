"""The REST API as synthesized from the route table: methods, authorizer, validation, gateway responses."""

import json
import re

import pytest
from exhaust.api.routes import ROUTES

from infra.api import BINARY_MEDIA_TYPES, path_parameters

from .walk import methods, of_type

PRIVATE = [route for route in ROUTES if route.auth == "token"]
PUBLIC = [route for route in ROUTES if route.auth == "none"]


def test_every_route_of_the_route_table_is_a_method_on_its_path(resources):
    synthesized = {key: method for key, method in methods(resources).items() if key[0] != "ANY"}
    for route in ROUTES:
        method = synthesized.get((route.method, route.path))
        assert method is not None, f"{route.method} {route.path} is not in the API"
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert method["OperationName"] == route.api_id
    assert len(synthesized) == len(ROUTES), "the API has methods the route table does not define"


def test_other_methods_on_a_route_path_are_a_405_with_allow_in_the_envelope(resources):
    from exhaust_devkit.local.gateway import allowed_methods

    refusals = {path: method for (verb, path), method in methods(resources).items() if verb == "ANY"}
    assert set(refusals) == {route.path for route in ROUTES}
    for path, method in refusals.items():
        assert method["AuthorizationType"] == "NONE"
        integration = method["Integration"]
        assert integration["Type"] == "MOCK"
        assert json.loads(integration["RequestTemplates"]["application/json"]) == {"statusCode": 405}
        (answer,) = integration["IntegrationResponses"]
        assert answer["StatusCode"] == "405"
        allow = ", ".join(allowed_methods(path))
        assert answer["ResponseParameters"]["method.response.header.Allow"] == f"'{allow}'"
        body = _render_gateway_template(answer["ResponseTemplates"]["application/json"])
        assert body["params"]["err"] == "METHOD_NOT_ALLOWED"
        assert body["params"]["errmsg"] == f"value is not allowed on {path}; allowed: {allow}"


def test_the_authorizer_is_a_cached_request_authorizer_on_the_authorization_header(resources):
    authorizers = of_type(resources, "AWS::ApiGateway::Authorizer")
    assert len(authorizers) == (1 if PRIVATE else 0)
    for authorizer in authorizers.values():
        properties = authorizer["Properties"]
        assert properties["Type"] == "REQUEST"
        assert properties["IdentitySource"] == "method.request.header.Authorization"
        assert properties["AuthorizerResultTtlInSeconds"] == 60
        assert "AuthorizerFunction" in json.dumps(properties["AuthorizerUri"])


@pytest.mark.parametrize("route", PRIVATE, ids=lambda r: f"{r.method} {r.path}")
def test_private_routes_sit_behind_the_authorizer(resources, route):
    (authorizer_id,) = of_type(resources, "AWS::ApiGateway::Authorizer")
    method = methods(resources)[(route.method, route.path)]
    assert method["AuthorizationType"] == "CUSTOM"
    assert method["AuthorizerId"] == {"Ref": authorizer_id}


@pytest.mark.parametrize("route", PUBLIC, ids=lambda r: f"{r.method} {r.path}")
def test_public_routes_need_no_authorization(resources, route):
    method = methods(resources)[(route.method, route.path)]
    assert method["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in method


def test_path_parameters_are_required_and_validated(resources):
    synthesized = methods(resources)
    for route in ROUTES:
        method = synthesized[(route.method, route.path)]
        expected = {f"method.request.path.{name}": True for name in path_parameters(route.path)}
        assert method.get("RequestParameters", {}) == expected
        assert "RequestValidatorId" in method
    (validator,) = of_type(resources, "AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestParameters"] is True


def test_stage_is_throttled_traced_and_access_logged(resources):
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["TracingEnabled"] is True
    assert "DestinationArn" in properties["AccessLogSetting"]
    # The stage-wide settings; the public export has its own lower throttle (test_legacy_export_infra).
    settings = next(s for s in properties["MethodSettings"] if (s["HttpMethod"], s["ResourcePath"]) == ("*", "/*"))
    assert settings["ThrottlingRateLimit"] == 50
    assert settings["ThrottlingBurstLimit"] == 100
    assert settings["LoggingLevel"] == "ERROR"


def test_zips_are_binary_media_types(resources):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    # */* : API Gateway picks binary by the request's first Accept type, and curl or browsers send */*.
    assert api["Properties"]["BinaryMediaTypes"] == BINARY_MEDIA_TYPES == ["*/*"]


def _render_gateway_template(template: str) -> dict:
    """Fill the $context variables as API Gateway would (messageString comes quoted) and parse the JSON."""
    filled = template.replace("$context.error.messageString", '"Unauthorized"')
    filled = re.sub(r"\$context\.[A-Za-z.]+", "value", filled)
    return json.loads(filled)


@pytest.mark.parametrize(
    ("response_type", "status"),
    [
        ("UNAUTHORIZED", "401"),
        ("ACCESS_DENIED", "403"),
        ("MISSING_AUTHENTICATION_TOKEN", "404"),
        ("THROTTLED", "429"),
        ("UNSUPPORTED_MEDIA_TYPE", "415"),
        ("BAD_REQUEST_PARAMETERS", "400"),
        ("DEFAULT_4XX", None),
        ("DEFAULT_5XX", None),
    ],
)
def test_gateway_errors_answer_the_service_envelope(resources, response_type, status):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
    }
    response = responses[response_type]
    assert response.get("StatusCode") == status
    body = _render_gateway_template(response["ResponseTemplates"]["application/json"])
    assert set(body) == {"id", "ver", "ts", "params", "responseCode"}
    assert body["params"]["status"] == "failed"
    assert set(body["params"]) == {"resmsgid", "status", "err", "errmsg"}
    assert body["params"]["err"]
    assert body["params"]["errmsg"]
    assert body["responseCode"]
