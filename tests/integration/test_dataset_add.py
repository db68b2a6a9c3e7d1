"""Dataset add accepts the reference system's field names beside ours (issue 16)."""

import json

import pytest

from tests.conftest import call_api, load_event


def add(tokens, request):
    event = load_event("dataset_add/reference_names")
    if request is not None:
        event["body"] = json.dumps({"params": {"msgid": "m"}, "request": request})
    return call_api(event, tokens["admin"])


def listed(tokens, dataset_id):
    status, _, body = call_api(load_event("dataset_list/all"), tokens["channel_a"])
    assert status == 200
    return next((item for item in body["result"]["datasets"] if item["datasetId"] == dataset_id), None)


def test_a_body_in_the_reference_names_is_registered_and_listed(tokens):
    status, _, body = add(tokens, None)
    assert status == 200, body
    found = listed(tokens, "course-completions")
    assert found is not None
    assert found["type"] == "on-demand"
    assert found["visibility"] == "private"
    assert found["version"] == "v1"
    assert found["authorizedRoles"] == ["ORG_ADMIN"]
    assert found["datasetConfig"] == {"batchFilters": [], "reportPath": "course-completions/"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("Standard Exhaust", "standard"), ("public-exhaust", "public"), ("Channel Exhaust", "standard")],
)
def test_reference_type_spellings_map_to_ours(tokens, given, expected):
    status, _, body = add(tokens, {"dataset": "weekly-x", "datasetType": given, "authorizedRoles": []})
    assert status == 200, body
    assert listed(tokens, "weekly-x")["type"] == expected


def test_the_exhaust_type_name_is_accepted_too(tokens):
    assert add(tokens, {"dataset": "daily-x", "exhaustType": "Standard Exhaust"})[0] == 200
    assert listed(tokens, "daily-x")["type"] == "standard"


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"dataset": "a-b", "datasetId": "c-d"}, "request.dataset: says 'a-b' but request.datasetId says 'c-d'"),
        ({"dataset": "a-b", "datasetType": "druid"}, "request.datasetType: 'druid' is not a dataset type"),
        ({"dataset": "a-b", "datasetType": "standard", "type": "public"}, "request.datasetType: says"),
        ({"dataset": "A B"}, "datasetId"),
    ],
)
def test_contradictions_and_bad_values_are_400s_naming_the_field(tokens, request_body, message):
    status, _, body = add(tokens, request_body)
    assert status == 400
    assert message in body["params"]["errmsg"]


def test_our_own_names_still_work(tokens):
    status, _, _ = call_api(load_event("dataset_add/new_dataset"), tokens["admin"])
    assert status == 200
    assert listed(tokens, "course-certificates")["type"] == "on-demand"
