"""CORS by default: no origin is allowed; and credentials never travel in a query string."""

from __future__ import annotations

import pytest
from exhaust.settings import RuntimeSettings

from tests.conftest import call_api, load_event

PORTAL = "https://portal.example.org"


def test_no_origin_is_allowed_by_default(aws_resources):
    assert RuntimeSettings().cors_allowed_origins == ""
    status, headers, _ = call_api(load_event("health/get"), Origin=PORTAL)
    assert status == 200
    assert not [name for name in headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize("name", ["token", "access_token", "Authorization"])
def test_a_token_in_the_query_string_is_refused_and_never_echoed(aws_resources, name):
    event = load_event("list/by_tag")
    event["queryStringParameters"] = {name: "exh_secret-in-the-url"}
    event["multiValueQueryStringParameters"] = {name: ["exh_secret-in-the-url"]}
    status, _, body = call_api(event)
    assert status in (400, 401)
    assert "exh_secret-in-the-url" not in str(body)
