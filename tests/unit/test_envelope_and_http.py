import json

import pytest
from exhaust.api.envelope import envelope
from exhaust.api.http import ApiRequest, RawResponse, answer
from exhaust.errors import BadRequest, NotFound, PayloadTooLarge, TooManyRequests


def request_with_body(body: bytes) -> ApiRequest:
    return ApiRequest(method="POST", path="/x", path_params={}, query={}, headers={}, body=body)


def test_success_envelope_has_the_reference_fields_and_omits_nulls():
    body = envelope("ekstep.analytics.dataset.request.submit", msgid="m-1", result={"a": 1})
    assert body["id"] == "ekstep.analytics.dataset.request.submit"
    assert body["ver"] == "1.0"
    assert body["responseCode"] == "OK"
    assert body["result"] == {"a": 1}
    assert body["params"]["msgid"] == "m-1"
    assert body["params"]["status"] == "successful"
    assert "err" not in body["params"]
    assert "errmsg" not in body["params"]
    assert body["ts"].endswith("+00:00")


def test_error_envelope_has_no_result():
    body = envelope("x", response_code="CLIENT_ERROR", err="INVALID_REQUEST", errmsg="tag is empty")
    assert body["params"]["status"] == "failed"
    assert body["params"]["err"] == "INVALID_REQUEST"
    assert body["params"]["errmsg"] == "tag is empty"
    assert "result" not in body


@pytest.mark.parametrize(
    ("raw", "error", "fragment"),
    [
        (b"", BadRequest, "empty body"),
        (b"{not json", BadRequest, "malformed JSON at line 1 column 2"),
        (b"\xff\xfe{}", BadRequest, "UTF-8"),
        (b"[1, 2]", BadRequest, "must be a JSON object"),
        (b"{" + b" " * (256 * 1024) + b"}", PayloadTooLarge, "at most 262144 bytes"),
    ],
)
def test_bad_bodies_are_typed_errors_naming_the_problem(raw, error, fragment):
    with pytest.raises(error) as caught:
        request_with_body(raw).json_body()
    assert fragment in caught.value.message


def test_query_values_accept_repeated_and_comma_separated():
    request = ApiRequest("GET", "/x", {}, {"types": ["sensor,meter", "gauge"]}, {}, b"")
    assert request.query_values("types") == ["sensor", "meter", "gauge"]


def test_headers_are_case_insensitive():
    request = ApiRequest.from_event({"headers": {"X-Channel-Id": "ch1"}, "httpMethod": "GET"})
    assert request.header("x-channel-id") == "ch1"


def invoke(fn, body=b'{"params": {"msgid": "abc"}}'):
    event = {"httpMethod": "POST", "path": "/x", "headers": {}, "body": body.decode()}
    return answer("test.api", event, fn)


def test_an_answer_echoes_msgid_and_wraps_result():
    answer = invoke(lambda request: {"ok": True})
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 200
    assert body["params"]["msgid"] == "abc"
    assert body["result"] == {"ok": True}


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (BadRequest("tag is empty"), 400, "CLIENT_ERROR"),
        (NotFound("no such request"), 404, "RESOURCE_NOT_FOUND"),
        (TooManyRequests("slow down", retry_after_seconds=30), 429, "TOO_MANY_REQUESTS"),
    ],
)
def test_an_answer_maps_typed_errors(error, status, code):
    def fail(request):
        raise error

    answer = invoke(fail)
    body = json.loads(answer["body"])
    assert answer["statusCode"] == status
    assert body["responseCode"] == code
    assert body["params"]["errmsg"] == error.message
    if status == 429:
        assert answer["headers"]["Retry-After"] == "30"


def test_unexpected_errors_are_a_500_without_details():
    def crash(request):
        raise RuntimeError("secret internals /etc/passwd")

    answer = invoke(crash)
    assert answer["statusCode"] == 500
    assert "secret internals" not in answer["body"]
    assert "Traceback" not in answer["body"]


def test_raw_binary_response_is_base64_encoded():
    proxy = RawResponse(200, b"PK\x03\x04\xff", {"Content-Type": "application/zip"}).to_proxy()
    assert proxy["isBase64Encoded"] is True
