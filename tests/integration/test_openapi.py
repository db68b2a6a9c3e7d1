from exhaust.api.routes import ROUTES
from openapi_spec_validator import validate

from tests.conftest import call_api, load_event


def get(path):
    event = load_event("health/get")
    event["path"] = event["resource"] = path
    return call_api(event)


def test_openapi_document_is_valid_3_1_and_covers_every_route(aws_resources):
    status, headers, document = get("/api/openapi.json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert document["openapi"] == "3.1.0"
    validate(document)
    for route in ROUTES:
        assert route.method.lower() in document["paths"][route.path], route


def test_every_private_route_documents_auth_statuses_and_submit_its_own(aws_resources):
    document = get("/api/openapi.json")[2]
    for route in ROUTES:
        responses = document["paths"][route.path][route.method.lower()]["responses"]
        assert "200" in responses
        assert "500" in responses
        if route.auth == "token":
            assert {"400", "401", "403"} <= set(responses), route
    submit = document["paths"]["/api/dataset/v1/request/submit"]["post"]
    assert {"409", "413", "429"} <= set(submit["responses"])
    read = document["paths"]["/api/dataset/v1/request/read/{tag}"]["get"]
    assert "404" in read["responses"]
    assert "SubmitBody" in document["components"]["schemas"]


def test_swagger_ui_page_loads_the_document(aws_resources):
    status, headers, page = get("/api/docs")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "swagger-ui" in page
    assert 'url: "openapi.json"' in page
