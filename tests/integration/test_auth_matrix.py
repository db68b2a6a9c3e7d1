"""Who may call what: the authorization matrix of every private route, and tenant isolation."""

import pytest

from tests.conftest import call_api, load_event, set_query

PRIVATE_EVENTS = [
    "submit/seed002_batch_filter",
    "read/by_request_id",
    "list/by_tag",
    "search/seed004_filters",
    "dataset_list/all",
    "dataset_add/new_dataset",
]


@pytest.mark.parametrize("name", PRIVATE_EVENTS)
@pytest.mark.parametrize("token_kind", [None, "bogus", "expired", "revoked"])
def test_private_routes_refuse_missing_unknown_expired_and_revoked_tokens(tokens, name, token_kind):
    token = None if token_kind is None else tokens.get(token_kind, "exh_not-a-real-token")
    status, _, body = call_api(load_event(name), token)
    assert status == 401
    assert body["params"]["status"] == "failed"
    assert body["responseCode"] == "UNAUTHORIZED"


@pytest.mark.parametrize("name", ["submit/seed002_batch_filter", "read/by_request_id", "list/by_tag"])
def test_missing_channel_header_is_a_400_naming_it(tokens, name):
    status, _, body = call_api(load_event(name), tokens["channel_a"], X_Channel_Id=None)
    assert status == 400
    assert "X-Channel-Id" in body["params"]["errmsg"]


@pytest.mark.parametrize("name", ["submit/seed002_batch_filter", "read/by_request_id", "list/by_tag"])
def test_a_channel_not_among_the_tokens_channels_is_a_403(tokens, name):
    status, _, body = call_api(load_event(name), tokens["channel_b"], X_Channel_Id="channel-a")
    assert status == 403
    assert body["responseCode"] == "FORBIDDEN"


def test_a_role_not_authorized_for_the_dataset_is_a_403(tokens):
    status, _, body = call_api(load_event("submit/seed002_batch_filter"), tokens["no_role"])
    assert status == 403
    assert "ORG_ADMIN" in body["params"]["errmsg"]


def test_dataset_add_needs_an_admin(tokens):
    status, _, _ = call_api(load_event("dataset_add/new_dataset"), tokens["channel_a"])
    assert status == 403
    status, _, _body = call_api(load_event("dataset_add/new_dataset"), tokens["admin"])
    assert status == 200
    status, _, listed = call_api(load_event("dataset_list/all"), tokens["channel_a"])
    assert "course-certificates" in [d["datasetId"] for d in listed["result"]["datasets"]]


def test_public_health_route_needs_no_token(aws_resources):
    status, _, _ = call_api(load_event("health/get"))
    assert status == 200


def test_another_channels_request_is_not_revealed(tokens):
    status, _, submitted = call_api(load_event("submit/seed002_batch_filter"), tokens["channel_a"])
    assert status == 200
    request_id = submitted["result"]["requestId"]
    event = load_event("read/by_request_id")
    set_query(event, {"requestId": request_id})
    status, _, body = call_api(event, tokens["channel_b"], X_Channel_Id="channel-b")
    assert status == 404
    assert body["params"]["errmsg"] == "no job available with the given request_id and tag"

    status, _, listed = call_api(load_event("list/by_tag"), tokens["channel_b"], X_Channel_Id="channel-b")
    assert status == 200
    assert listed["result"]["jobs"] == []

    search = load_event("search/seed004_filters")
    status, _, found = call_api(search, tokens["channel_b"], X_Channel_Id="channel-b")
    assert status == 403  # the body asks for channel-a's requests

    status, _, found = call_api(search, tokens["admin"], X_Channel_Id=None)
    assert status == 200
    assert found["result"]["count"] == 1
    assert found["result"]["jobs"][0]["downloadUrls"] == []
