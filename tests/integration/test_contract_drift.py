"""The document says exactly what the code accepts (issue 15): the drifts found, and the agreement in general.

The bodies' schemas in /api/openapi.json are generated from the models that validate them; these tests hold the
document and the code to the same answers, body by body.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from exhaust.errors import BadRequest
from jsonschema import Draft202012Validator

from tests.conftest import call_api, load_event

KEY = "correct-horse-battery"
ON_DEMAND = ("progress-exhaust", "userinfo-exhaust", "response-exhaust")
SUBMIT_PATH = "/api/dataset/v1/request/submit"
SEARCH_PATH = "/api/dataset/v1/request/search"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document /api/openapi.json serves (tests/integration/test_openapi.py reads it from the route)."""
    from exhaust.api.routes import document

    return document()


def body_validator(document: dict[str, Any], path: str) -> Draft202012Validator:
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


def request_schema(document: dict[str, Any]) -> dict[str, Any]:
    return dict(document["components"]["schemas"]["SubmitRequest"])


def test_the_document_requires_encryption_key_for_every_on_demand_dataset(document: dict[str, Any]) -> None:
    accepts = body_validator(document, SUBMIT_PATH).is_valid
    for dataset in ON_DEMAND:
        request = {"tag": "t", "dataset": dataset, "datasetConfig": {"batchId": "b"}}
        assert not accepts({"request": request}), dataset
        assert accepts({"request": {**request, "encryptionKey": KEY}}), dataset
        assert accepts({"request": request, "encryptionKey": KEY}), dataset  # seed 002's place, beside request


@pytest.mark.parametrize("dataset", ON_DEMAND)
def test_the_code_requires_encryption_key_for_every_on_demand_dataset(tokens: dict[str, str], dataset: str) -> None:
    event = load_event("submit/seed002_batch_filter")
    event["body"] = json.dumps({"request": {"tag": "t", "dataset": dataset, "datasetConfig": {"batchId": "b"}}})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 400
    assert body["params"]["errmsg"] == f"request.encryptionKey: is required for {dataset}"


def test_the_status_filter_takes_any_case_in_the_document_and_the_code(
    document: dict[str, Any], tokens: dict[str, str]
) -> None:
    accepts = body_validator(document, SEARCH_PATH).is_valid
    event = load_event("search/seed004_filters")
    for status in ("SUCCESS", "success", "Success", "sUbMiTtEd"):
        body = {"request": {"filters": {"status": status}}}
        assert accepts(body), status
        event["body"] = json.dumps(body)
        assert call_api(event, tokens["channel_a"])[0] == 200, status
    for status in ("DONE", " success", "SUCCESSFUL"):
        body = {"request": {"filters": {"status": status}}}
        assert not accepts(body), status
        event["body"] = json.dumps(body)
        assert call_api(event, tokens["channel_a"])[0] == 400, status


def test_a_hash_in_a_tag_is_refused_by_the_document_and_the_code(
    document: dict[str, Any], tokens: dict[str, str]
) -> None:
    accepts = body_validator(document, SUBMIT_PATH).is_valid
    request = {"tag": "a#b", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}, "encryptionKey": KEY}
    assert not accepts({"request": request})
    assert accepts({"request": {**request, "tag": " a-b "}})  # trimmed, as the code does
    event = load_event("submit/seed002_batch_filter")
    event["body"] = json.dumps({"request": request})
    status, _, body = call_api(event, tokens["channel_a"])
    assert status == 400
    assert body["params"]["errmsg"].startswith("request.tag: must be 1 to 100 letters")
    tag_parameter = document["paths"]["/api/dataset/v1/request/read/{tag}"]["get"]["parameters"][0]
    assert not Draft202012Validator(tag_parameter["schema"]).is_valid("a#b")


def submit(**fields: Any) -> dict[str, Any]:
    """A submit body: a progress-exhaust batch, with `fields` of request changed (None: left out)."""
    request = {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}, **fields}
    return {"request": {name: value for name, value in request.items() if value is not None}}


def search_filter(**request: Any) -> dict[str, Any]:
    return {"searchFilter": {"request": {"filters": {"contentType": "Course", "channel": "c"}, **request}}}


SUBMIT_BODIES = [
    submit(),
    submit(tag=" t ", datasetConfig={"batchFilter": ["b1", "b1"]}),
    submit(dataset="org-pii-exhaust", datasetConfig=None),
    submit(dataset="org-pii-exhaust", datasetConfig={}),
    submit(dataset="org-pii-exhaust"),
    submit(datasetConfig=None),
    submit(datasetConfig={}),
    submit(datasetConfig={"batchId": "b", "batchFilter": ["c"]}),
    submit(datasetConfig={"batchFilter": []}),
    submit(datasetConfig={"batchFilter": ["b", " "]}),
    submit(tag=""),
    submit(tag="x" * 101),
    submit(dataset="progress exhaust"),
    {"request": {"dataset": "progress-exhaust", "datasetConfig": {"batchId": "b"}}},
    submit(encryptionKey=""),
    submit(encryptionKey="1234567"),
    submit(encryptionKey="k" * 257),
    submit(callbackUrl="https://h.example/x"),
    submit(callbackUrl="HTTPS://h.example/x"),
    submit(callbackUrl="http://h.example/x"),
    submit(callbackUrl="https://h.example/\u00e9"),
    submit(datasetConfig=search_filter(limit=49)),
    submit(datasetConfig=search_filter(limit=50)),
    submit(datasetConfig={"searchFilter": {"request": {"filters": {"contentType": "Course", "channel": "c",
                                                                   "identifier": []}}}}),
    {"request": "x"},
    {"params": {"msgid": "m"}},
]  # fmt: skip
SEARCH_BODIES = [
    {"request": {"filters": {"dataset": "progress-exhaust"}}},
    {"request": {"filters": {"requestedDate": "2026-02-28"}, "limit": 1000}},
    {"request": {"filters": {"requestedDate": "2026-2-28"}}},
    {"request": {"filters": {"channel": "a#b"}}},
    {"request": {"filters": {"channel": "channel-a"}, "limit": 1001}},
    {"request": {"filters": {"channel": "channel-a"}, "limit": 0}},
    {"request": {"filters": {"channel": "channel-a"}, "limit": True}},
    {"request": {"filters": {"channel": "channel-a"}, "cursor": 5}},
    {"request": {"filters": {}}},
    {"request": {"filters": {"colour": "red"}}},
    {"request": {"filters": {"dataset": "progress-exhaust", "colour": "red"}}},
    {"request": {}},
]


def code_accepts(parse: Any, body: dict[str, Any]) -> bool:
    try:
        parse(body)
    except BadRequest:
        return False
    return True


def submit_accepted_by_code(body: dict[str, Any]) -> bool:
    """What a submit's validation answers: the body's rules, then, for a dataset the service defines, its registry
    entry's (the key)."""
    from exhaust.datasets.registry import BUILT_IN
    from exhaust.requests.rules import check_against_dataset, parse_submit

    try:
        submit = parse_submit(body)
        for dataset in BUILT_IN:
            if dataset.datasetId == submit.dataset:
                check_against_dataset(submit, dataset)
    except BadRequest:
        return False
    return True


@pytest.mark.parametrize("body", SUBMIT_BODIES, ids=lambda body: json.dumps(body)[:80])
def test_the_submit_schema_accepts_what_the_code_accepts(document: dict[str, Any], body: dict[str, Any]) -> None:
    # The body gets a key where it has none, so that each case is about its own field.
    request = body.get("request")
    keyed = {**body, "encryptionKey": KEY} if isinstance(request, dict) and "encryptionKey" not in request else body
    assert body_validator(document, SUBMIT_PATH).is_valid(keyed) == submit_accepted_by_code(keyed)


ABSENT = object()
# Datasets on each side of the cross-field rules: needing a key or not (one the registry does not know), org-scoped
# or batch-selected, with spaces around them (trimmed).
RULE_DATASETS = ("progress-exhaust", " userinfo-exhaust ", "org-pii-exhaust", " org-pii-exhaust", "custom-exhaust")
SELECTOR_VALUES = {
    "batchId": "b1",
    "batchFilter": ["b1", "b2"],
    "searchFilter": {"request": {"filters": {"contentType": "Course", "channel": "c"}, "limit": 2}},
}
KEY_VALUES = (ABSENT, None, "", KEY)


def dataset_configs() -> list[Any]:
    """Every mix of the selectors absent, null or given; and datasetConfig absent, null, not an object, other keys."""
    configs: list[Any] = [ABSENT, None, "b1", {"csvBom": True}]
    for choices in itertools.product((ABSENT, None, "given"), repeat=len(SELECTOR_VALUES)):
        configs.append(
            {
                name: SELECTOR_VALUES[name] if choice == "given" else choice
                for name, choice in zip(SELECTOR_VALUES, choices, strict=True)
                if choice is not ABSENT
            }
        )
    return configs


def cross_field_bodies() -> list[dict[str, Any]]:
    """Submit bodies crossing the fields the cross-field rules read: dataset, datasetConfig's selectors, the key
    inside request and beside it."""
    bodies = []
    for dataset, config, inside, beside in itertools.product(RULE_DATASETS, dataset_configs(), KEY_VALUES, KEY_VALUES):
        request = {"tag": "t", "dataset": dataset, "datasetConfig": config, "encryptionKey": inside}
        body: dict[str, Any] = {"request": {name: value for name, value in request.items() if value is not ABSENT}}
        if beside is not ABSENT:
            body["encryptionKey"] = beside
        bodies.append(body)
    return bodies


def test_the_cross_field_rules_of_submit_are_the_same_in_the_document_and_the_code(document: dict[str, Any]) -> None:
    """Issue 24: each cross-field rule is declared once (exhaust.requests.rules), the validation and the document's
    if/then made from it; on every body of the generated set both give the same answer."""
    accepts = body_validator(document, SUBMIT_PATH).is_valid
    bodies = cross_field_bodies()
    answers = [(accepts(body), submit_accepted_by_code(body)) for body in bodies]

    disagreeing = [(body, document_says) for body, (document_says, code_says) in zip(bodies, answers, strict=True)
                   if document_says != code_says]  # fmt: skip
    assert disagreeing == []
    accepted = sum(code_says for _, code_says in answers)
    assert 0 < accepted < len(bodies) / 2, (accepted, len(bodies))  # both answers, refusals the more common


@pytest.mark.parametrize("body", SEARCH_BODIES, ids=lambda body: json.dumps(body)[:80])
def test_the_search_schema_accepts_what_the_code_accepts(document: dict[str, Any], body: dict[str, Any]) -> None:
    from exhaust.requests.rules import parse_search

    assert body_validator(document, SEARCH_PATH).is_valid(body) == code_accepts(parse_search, body)


def test_the_export_page_shows_the_documents_own_export_operation(document: dict[str, Any]) -> None:
    from exhaust.api.export_ui import export_document

    export = "/api/export/{format}"
    assert export_document()["paths"] == {export: document["paths"][export]}
    (format_parameter,) = [p for p in document["paths"][export]["get"]["parameters"] if p["name"] == "format"]
    accepts = Draft202012Validator(format_parameter["schema"]).is_valid
    assert all(accepts(name) for name in ("csv", "CSV", "Json", "xml"))
    assert not accepts("yaml")


def test_each_body_is_parsed_once(tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from exhaust import safe_json

    parses: list[bytes] = []
    real_loads = safe_json.loads

    def counted(data: bytes) -> Any:
        parses.append(data)
        return real_loads(data)

    monkeypatch.setattr(safe_json, "loads", counted)
    submit = load_event("submit/seed002_batch_filter")
    assert call_api(submit, tokens["channel_a"])[0] == 200
    assert len(parses) == 1
    legacy = load_event("legacy/seed000_date_range")
    call_api(legacy)
    assert len(parses) == 2
    refused = load_event("submit/seed002_batch_filter")
    refused["body"] = "{not json"
    assert call_api(refused, tokens["channel_a"])[0] == 400
    assert len(parses) == 3


def test_the_documents_body_examples_are_accepted_by_the_schema_and_the_code(document: dict[str, Any]) -> None:
    from exhaust.requests.rules import parse_search, parse_submit

    for path, parse in ((SUBMIT_PATH, parse_submit), (SEARCH_PATH, parse_search)):
        reference = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        (example,) = document["components"]["schemas"][reference.rsplit("/", 1)[1]]["examples"]
        assert body_validator(document, path).is_valid(example), path
        assert code_accepts(parse, example), path


def parameter_of(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    (operation,) = document["paths"][path].values()
    (found,) = [parameter for parameter in operation["parameters"] if parameter["name"] == name]
    return dict(found)


def test_the_idempotency_key_the_document_accepts_is_the_one_the_code_accepts(
    document: dict[str, Any], tokens: dict[str, str]
) -> None:
    """Issue 24: the document said any string; the code refused more than 255 characters."""
    accepts = Draft202012Validator(parameter_of(document, SUBMIT_PATH, "Idempotency-Key")["schema"]).is_valid
    event = load_event("submit/seed002_batch_filter")
    for key in ("k" * 255, "k" * 256, "key with spaces and ~!", "ключ", "a\tb"):
        status, _, body = call_api(event, tokens["channel_a"], Idempotency_Key=key)
        assert accepts(key) == (status == 200), (key[:20], status, body)


READ_PATH = "/api/dataset/v1/request/read/{tag}"
BY_REQUEST_ID = {READ_PATH: "read/by_request_id", **{f"/api/dataset/v1/request/{action}/{{tag}}":
                 f"{action}/by_request_id" for action in ("cancel", "delete")}}  # fmt: skip


@pytest.mark.parametrize("path", sorted(BY_REQUEST_ID))
def test_the_request_id_the_document_accepts_is_one_the_code_looks_for(
    document: dict[str, Any], tokens: dict[str, str], path: str
) -> None:
    """Issue 24: the document took any non-empty requestId; the code refused all but 1 to 64 letters and digits."""
    parameter = parameter_of(document, path, "requestId")
    assert parameter["required"] is True
    accepts = Draft202012Validator(parameter["schema"]).is_valid
    event = load_event(BY_REQUEST_ID[path])
    for request_id in ("0123ABCDEF", " 0123abcdef ", "a" * 64, "a" * 65, "a-b", "a#b", "%"):
        event["queryStringParameters"] = {"requestId": request_id}
        event["multiValueQueryStringParameters"] = {"requestId": [request_id]}
        status, _, body = call_api(event, tokens["channel_a"])
        assert accepts(request_id) == (status == 404), (request_id, status, body)  # a valid id of no request


@pytest.mark.parametrize(
    "event_name", ["submit/seed002_batch_filter", "read/by_request_id", "list/by_tag", "cancel/by_request_id"]
)
def test_the_channel_header_is_required_in_the_document_where_the_code_requires_it(
    document: dict[str, Any], tokens: dict[str, str], event_name: str
) -> None:
    """Issue 24: X-Channel-Id was documented as optional on operations that refuse a request without it."""
    event = load_event(event_name)
    parameter = parameter_of(document, event["resource"], "X-Channel-Id")
    assert parameter["required"] is True
    status, _, body = call_api(event, tokens["channel_a"], X_Channel_Id=None)
    assert status == 400
    assert body["params"]["errmsg"].startswith("X-Channel-Id: header is required")
    accepts = Draft202012Validator(parameter["schema"]).is_valid
    for channel in ("channel a", "a#b", "-a"):
        assert not accepts(channel)
        assert call_api(event, tokens["channel_a"], X_Channel_Id=channel)[0] == 400, channel
