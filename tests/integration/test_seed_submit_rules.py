"""Submit rules of seed 002 added by issue 16: one open limit-based searchFilter request per dataset and channel."""

import json

from tests.conftest import call_api, load_event, stored_request

KEY = "test-key-12345"


def limit_search(tag="t1", dataset="progress-exhaust", limit=10, identifiers=None):
    filters = {"contentType": "Course", "channel": "channel-a"}
    if identifiers:
        filters["identifier"] = identifiers
    return {
        "tag": tag,
        "dataset": dataset,
        "encryptionKey": KEY,
        "datasetConfig": {"searchFilter": {"request": {"filters": filters, "limit": limit}}},
    }


def submit(tokens, request, token="channel_a", channel="channel-a"):
    event = load_event("submit/seed002_search_filter")
    event["body"] = json.dumps({"request": request})
    return call_api(event, tokens[token], X_Channel_Id=channel)


def test_a_second_limit_based_request_while_the_first_is_open_is_a_409_naming_it(tokens):
    status, _, first = submit(tokens, limit_search())
    assert status == 200
    open_id = first["result"]["requestId"]
    status, _, second = submit(tokens, limit_search(tag="t2", limit=20))
    assert status == 409
    message = second["params"]["errmsg"]
    assert open_id in message
    assert message.startswith("request.datasetConfig.searchFilter: only one limit-based searchFilter request")


def test_the_same_request_again_is_answered_unchanged(tokens):
    first = submit(tokens, limit_search())[2]["result"]["requestId"]
    status, _, again = submit(tokens, limit_search())
    assert status == 200
    assert again["result"]["requestId"] == first


def test_identifier_requests_other_datasets_and_other_channels_are_not_limited(tokens):
    assert submit(tokens, limit_search())[0] == 200
    assert submit(tokens, limit_search(tag="t2", identifiers=["course1"]))[0] == 200
    assert submit(tokens, limit_search(tag="t3", dataset="response-exhaust"))[0] == 200
    other = limit_search(tag="t4")
    other["datasetConfig"]["searchFilter"]["request"]["filters"]["channel"] = "channel-b"
    assert submit(tokens, other, token="channel_b", channel="channel-b")[0] == 200


def test_once_the_first_has_ended_another_may_be_submitted(tokens):
    from exhaust.requests.models import Status
    from exhaust.requests.store import RequestStore

    store = RequestStore()
    first_id = submit(tokens, limit_search())[2]["result"]["requestId"]
    first = stored_request(first_id)
    store.replace(first.model_copy(update={"status": Status.SUCCESS, "completedAt": first.submittedAt}), first.version)
    status, _, second = submit(tokens, limit_search(tag="t2"))
    assert status == 200, second
    assert second["result"]["requestId"] != first_id


def org_pii(config=None, with_key=True):
    request = {"tag": "org-users", "dataset": "org-pii-exhaust"}
    if config is not None:
        request["datasetConfig"] = config
    if with_key:
        request["encryptionKey"] = KEY
    return request


def test_org_pii_is_requested_with_an_empty_config_the_org_being_the_scope(tokens):
    status, _, body = submit(tokens, org_pii({}))
    assert status == 200, body
    result = body["result"]
    assert result["dataset"] == "org-pii-exhaust"
    assert result["datasetConfig"] == {}
    assert result["requestedChannel"] == "channel-a"
    assert submit(tokens, org_pii())[2]["result"]["requestId"] == result["requestId"]  # no datasetConfig at all


def test_org_pii_refuses_a_batch_selector_and_a_missing_key(tokens):
    status, _, body = submit(tokens, org_pii({"batchId": "b1"}))
    assert status == 400
    assert body["params"]["errmsg"].startswith("request.datasetConfig.batchId: org-pii-exhaust takes no batch selector")
    status, _, body = submit(tokens, org_pii({}, with_key=False))
    assert status == 400
    assert body["params"]["errmsg"] == "request.encryptionKey: is required for org-pii-exhaust"
    status, _, body = submit(tokens, org_pii("all"))
    assert status == 400
    assert body["params"]["errmsg"].startswith("request.datasetConfig: must be an object")


def test_org_pii_is_for_org_admins_only(aws_resources, tokens):
    from exhaust.auth.credentials import CredentialStore

    report_admin = CredentialStore().create("token", "reports", channels=["channel-a"], roles=["REPORT_ADMIN"])[0]
    event = load_event("submit/seed002_search_filter")
    event["body"] = json.dumps({"request": org_pii({})})
    status, _, body = call_api(event, report_admin)
    assert status == 403
    assert "org-pii-exhaust" in body["params"]["errmsg"]
    event["body"] = json.dumps({"request": limit_search()})
    assert call_api(event, report_admin)[0] == 200  # the other datasets keep their roles


def test_the_new_datasets_are_listed(tokens):
    status, _, body = call_api(load_event("dataset_list/all"), tokens["channel_a"])
    assert status == 200
    found = {item["datasetId"]: item for item in body["result"]["datasets"]}
    assert found["org-pii-exhaust"]["type"] == "on-demand"
    assert found["org-pii-exhaust"]["authorizedRoles"] == ["ORG_ADMIN"]
    assert found["org-pii-exhaust"]["encryptionKeyRequired"] is True
    assert found["summary-channel-exhaust"]["type"] == "standard"
