"""Client mistakes and attacks on every route (issue 12): always a 4xx in the envelope, never a 5xx.

Each event goes through the authorizer and the route's handler as API Gateway would send it (call_api).
"""

import base64
import json
import re

import pytest
from exhaust.api.operation import Operation
from exhaust.api.routes import ROUTES

from tests.conftest import call_api, moto_environment
from tests.integration.course_directory import put_course_directory

# One moto account for the module, on one worker: the tests write only what they read back themselves.
pytestmark = pytest.mark.xdist_group("hostile-input")

SUBMIT_PATH = "/api/dataset/v1/request/submit"
TEST_KEY = "test-key-12345"
DEEP_JSON = "[" * 10_000 + "]" * 10_000
HUGE_INTEGER = "1" * 5_000


# Channel a's token: its org admin, or a mentor whose course holds the batches the tests submit (issue 25).
CHANNEL_A_ROLES: dict[str, dict[str, list[str]]] = {
    "org_admin": {"roles": ["ORG_ADMIN"]},
    "mentor": {"roles": ["COURSE_ADMIN"], "courses": ["course-1"]},
}


@pytest.fixture(scope="module", params=list(CHANNEL_A_ROLES))
def tokens(request, tmp_path_factory):
    from exhaust.api import courses
    from exhaust.auth.credentials import CredentialStore
    from exhaust.lake.store import Lake

    with moto_environment() as settings, pytest.MonkeyPatch.context() as patch:
        # The course listing reads the lake with pyarrow, which moto's in-process mock does not serve: an empty lake.
        empty_lake = Lake.open(str(tmp_path_factory.mktemp("empty-lake")))
        patch.setattr(courses, "lake", lambda: empty_lake)
        put_course_directory(settings, "channel-a", {"course-1": ["b1"]})
        store = CredentialStore()
        yield {
            "channel_a": store.create(
                "token",
                "a",
                channels=["channel-a"],
                user_id="user-a",
                roles=CHANNEL_A_ROLES[request.param]["roles"],
                courses=CHANNEL_A_ROLES[request.param].get("courses"),
            )[0],
            "channel_b": store.create("token", "b", channels=["channel-b"], roles=["ORG_ADMIN"], user_id="user-b")[0],
            "admin": store.create("token", "operator", channels=["*"], roles=["ADMIN"])[0],
        }


def path_parameters(route: Operation) -> list[str]:
    return re.findall(r"\{(\w+)\}", route.path)


def route_event(
    route: Operation,
    *,
    body: str | None = None,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> dict:
    values = {name: "x" for name in path_parameters(route)} | (params or {})
    return {
        "resource": route.path,
        "path": route.path.format(**values),
        "httpMethod": route.method,
        "headers": {"X-Channel-Id": "channel-a", "Content-Type": "application/json", **(headers or {})},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} if query else None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {name: values[name] for name in path_parameters(route)} or None,
        "requestContext": {"requestId": "hostile", "resourcePath": route.path, "httpMethod": route.method},
        "body": body,
        "isBase64Encoded": False,
    }


def send(tokens, route: Operation, token: str = "channel_a", **kwargs):
    return call_api(route_event(route, **kwargs), tokens[token] if route.auth == "token" else None)


def route_named(function: str) -> Operation:
    return next(route for route in ROUTES if route.function == function)


def assert_refused(answer, status: int, *words: str):
    code, headers, body = answer
    assert code == status, body
    assert headers["Content-Type"].startswith("application/json")
    assert body["params"]["status"] == "failed"
    for word in words:
        assert word in body["params"]["errmsg"], body["params"]["errmsg"]
    return body


def submit_body(**request) -> str:
    return json.dumps(
        {
            "request": {
                "tag": "t",
                "dataset": "progress-exhaust",
                "datasetConfig": {"batchId": "b1"},
                "encryptionKey": TEST_KEY,
                **request,
            }
        }
    )


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_json_nested_10000_deep_is_never_a_server_error(tokens, route):
    token = "admin" if route.function == "dataset_add" else "channel_a"
    status, _, body = send(tokens, route, token, body=DEEP_JSON)
    assert status < 500, body
    if route.method == "POST":
        assert status == 400
        assert "body" in body["params"]["errmsg"]


@pytest.mark.parametrize("function", ["submit", "search", "legacy"])
def test_an_integer_of_5000_digits_is_a_400_naming_the_body(tokens, function):
    route = route_named(function)
    for body in (f'{{"request": {{"limit": {HUGE_INTEGER}}}}}', f"[{HUGE_INTEGER}]"):
        status, _, answer = send(tokens, route, body=body)
        assert status == 400, answer
        assert "number" in answer["params"]["errmsg"]


def test_both_legacy_routes_refuse_a_huge_integer_in_their_own_error_contract(tokens):
    for route in (r for r in ROUTES if r.function == "legacy"):
        params = {"fromDate": "2024-01-01", "toDate": "2024-01-02"}
        status, _, answer = send(tokens, route, body=f'{{"request": {{"licensekey": {HUGE_INTEGER}}}}}', params=params)
        assert status == 400, answer
        assert answer["params"]["err"] == "INVALID_DATA_ERROR"


@pytest.mark.parametrize("field", ["tag", "encryptionKey"])
def test_a_lone_surrogate_is_a_400_naming_the_field(tokens, field):
    body = submit_body().replace(f'"{field}": "', f'"{field}": "t\\ud800', 1)
    assert_refused(send(tokens, route_named("submit"), body=body), 400, f"request.{field}", "surrogate")


@pytest.mark.parametrize("value", [" ", "\t", "\x00", "\x1b[31m", "A" * 2000])
def test_a_blank_control_or_overlong_request_id_is_a_400(tokens, value):
    answer = send(tokens, route_named("read"), query={"requestId": [value]}, params={"tag": "t"})
    assert_refused(answer, 400, "requestId")


@pytest.mark.parametrize(
    "cursor",
    [
        {"requestId": 1.5},
        {"requestId": "A", "tagKey": "channel-b#t", "submittedAt": 1},
        {"requestId": "A" * 5000, "tagKey": "channel-a#t", "submittedAt": 1},
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": "soon"},
        ["not", "an", "object"],
        # Issue 28: past what DynamoDB's numbers hold (38 digits), the database client raised and the list was a 500.
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": 10**40},
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": 10**38},
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": 253_402_300_800_000},
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": -1},
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": True},
        {"requestId": "A", "tagKey": "channel-a#t", "submittedAt": 1e300},
    ],
)
def test_a_crafted_list_cursor_is_a_400(tokens, cursor):
    crafted = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
    answer = send(tokens, route_named("list"), query={"cursor": [crafted]}, params={"tag": "t"})
    assert_refused(answer, 400, "cursor")


def test_a_10000_character_idempotency_key_is_a_400_naming_the_limit(tokens):
    answer = send(tokens, route_named("submit"), body=submit_body(), headers={"Idempotency-Key": "k" * 10_000})
    assert_refused(answer, 400, "Idempotency-Key", "255")


def test_the_export_type_typo_is_a_400_listing_the_accepted_parameters(tokens):
    answer = send(tokens, route_named("export"), query={"type": ["sensor"]}, params={"format": "csv"})
    assert_refused(answer, 400, "type", "date_from, date_to, types, units")


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_an_unknown_query_parameter_is_a_400_on_every_route(tokens, route):
    assert_refused(send(tokens, route, query={"no_such_parameter": ["1"]}), 400, "no_such_parameter", "accepted")


def list_jobs(tokens, tag, channel, token="channel_a"):
    return send(tokens, route_named("list"), token, params={"tag": tag}, headers={"X-Channel-Id": channel})


@pytest.mark.parametrize(
    "place",
    [
        {"datasetConfig": {"batchId": "b1", "encryptionKey": "in-config-secret"}},
        {"datasetConfig": {"batchId": "b1", "zip_password": "in-config-secret"}},
        {"datasetConfig": {"batchId": "b1", "options": [{"Secret": "in-config-secret"}]}},
        {"apiKey": "in-config-secret"},
    ],
)
def test_a_secret_outside_request_encryption_key_is_refused_and_never_stored(tokens, place):
    tag = "secret-" + next(iter(place))
    body = assert_refused(send(tokens, route_named("submit"), body=submit_body(tag=tag, **place)), 400, "secret")
    assert "in-config-secret" not in json.dumps(body)
    assert list_jobs(tokens, tag, "channel-a")[2]["result"]["jobs"] == []


def test_the_key_beside_request_is_still_accepted_as_seed_002_shows(tokens):
    body = json.loads(submit_body(tag="beside"))
    body["encryptionKey"] = body["request"].pop("encryptionKey")
    status, _, answer = send(tokens, route_named("submit"), body=json.dumps(body))
    assert status == 200, answer
    assert TEST_KEY not in json.dumps(answer)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@partner.example/hook",
        "https://pass@partner.example/hook",
        "https://partner.example:port/hook",
        "https://[::1/hook",
        "https://partner.example/hook\n",
        "https://partner.example/" + "a" * 3000,
    ],
)
def test_a_callback_url_with_credentials_or_malformed_is_refused(tokens, url):
    body = assert_refused(send(tokens, route_named("submit"), body=submit_body(callbackUrl=url)), 400, "callbackUrl")
    assert "pass@partner" not in body["params"]["errmsg"]


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1:22/",
        "https://localhost/",
        "https://10.0.0.1/",
        "https://[::1]/",
        "https://0x7f000001/",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://127.0.0.1:4566/?Action=PurgeQueue",
    ],
)
def test_a_callback_url_leading_inside_the_network_is_refused_at_submit(tokens, url):
    """Issue 28: each was a 200; the service would have POSTed there (server-side request forgery)."""
    body = assert_refused(send(tokens, route_named("submit"), body=submit_body(callbackUrl=url)), 400, "callbackUrl")
    assert "request.callbackUrl:" in body["params"]["errmsg"]


def test_no_url_credentials_reach_the_callback_log_lines(caplog):
    from exhaust.pipeline.notify import Notifier
    from exhaust.settings import RuntimeSettings

    notifier = Notifier(settings=RuntimeSettings(), sleep=lambda _: None)
    with caplog.at_level("INFO"):
        assert not notifier.call_back("https://user:pass@partner.example/hook", {"requestId": "R1"})
    logged = json.dumps([record.__dict__ for record in caplog.records], default=str)
    assert "callback destination refused" in logged
    assert "must not carry credentials" in logged
    assert "pass@" not in logged


def test_a_tag_holding_the_key_separator_is_refused(tokens):
    assert_refused(send(tokens, route_named("submit"), body=submit_body(tag="x#t")), 400, "request.tag")


@pytest.mark.parametrize(
    "crafted",
    ["channel-a#x", "channel-a#t", "*", "channel-a,channel-b", "CHANNEL-A", "channel a", "channel-a\x00", "c\tb"],
)
def test_crafted_channel_ids_never_show_one_channel_another_channels_data(tokens, crafted):
    assert send(tokens, route_named("submit"), body=submit_body(tag="t"))[0] == 200
    for token in ("admin", "channel_b"):
        status, _, body = list_jobs(tokens, "t", crafted, token)
        assert status in (400, 403) or body["result"]["jobs"] == [], body
        status, _, body = send(
            tokens, route_named("submit"), token, body=submit_body(tag="t"), headers={"X-Channel-Id": crafted}
        )
        # Only an admin may act for another channel, and then CHANNEL-A is a channel of its own (ids are exact).
        assert status in (400, 403) or body["result"]["requestedChannel"] == crafted, body
        search = json.dumps({"request": {"filters": {"channel": crafted}}})
        status, _, body = send(tokens, route_named("search"), token, body=search, headers={"X-Channel-Id": crafted})
        assert status in (400, 403) or {job["requestedChannel"] for job in body["result"]["jobs"]} <= {crafted}, body
    own = list_jobs(tokens, "t", "channel-a")[2]["result"]["jobs"]
    assert {job["requestedChannel"] for job in own} == {"channel-a"}


@pytest.mark.parametrize(
    "body",
    [
        '{"request": {"tag": "t", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b1"}, '
        '"encryptionKey": "first-key-123", "encryptionKey": "second-key-456"}}',
        '{"request": {"tag": "a", "tag": "b", "dataset": "progress-exhaust", "datasetConfig": {"batchId": "b1"}}}',
        '{"request": {}, "request": {"tag": "t"}}',
    ],
)
def test_a_body_holding_a_key_twice_is_refused_naming_it(tokens, body):
    """Issue 28: the last one won, even for two encryption keys; which one the partner meant is a guess."""
    answer = assert_refused(send(tokens, route_named("submit"), body=body), 400, "appears twice")
    assert "second-key" not in answer["params"]["errmsg"]


@pytest.mark.parametrize("msgid", [42, 1.5, True, ["m"], {"m": 1}, "m" * 257])
def test_a_msgid_that_is_not_a_string_is_refused(tokens, msgid):
    body = json.dumps({"params": {"msgid": msgid}, "request": {"filters": {"status": "SUBMITTED"}}})
    answer = assert_refused(send(tokens, route_named("search"), body=body), 400, "params.msgid")
    if not isinstance(msgid, str):
        assert answer["params"].get("msgid") is None  # what is not a msgid is not echoed as one
