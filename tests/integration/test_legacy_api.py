"""The legacy Data Exhaust Dataset API (seed 000) on moto, through the route table and the handler."""

import base64
import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest

from tests.conftest import call_api, load_event
from tests.integration.lake_samples import (
    DATASET_ID,
    PARTNER_EVENTS,
    RESOURCE_ID,
    TODAY,
    write_lake,
)

API_ID = "ekstep.data_exhaust_dataset_service"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return write_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module")
def license_keys(aws_settings, lake):
    """License keys in moto, and the legacy service reading the sample lake with today = 2026-05-20."""
    from exhaust.api import legacy as api
    from exhaust.auth.credentials import CredentialStore
    from exhaust.legacy.service import LegacyService

    store = CredentialStore()
    keys = {
        "partner": store.create("license", "partner", resource_ids=[RESOURCE_ID], datasets=[DATASET_ID])[0],
        "other_resource": store.create("license", "other", resource_ids=["0" * 40], datasets=[DATASET_ID])[0],
        "not_legacy": store.create("license", "wrong", resource_ids=[RESOURCE_ID], datasets=["progress-exhaust"])[0],
    }
    revoked_key, revoked = store.create("license", "gone", resource_ids=[RESOURCE_ID], datasets=[DATASET_ID])
    store.revoke(revoked.credentialId)
    keys["revoked"] = revoked_key
    service = LegacyService(lake_opener=lambda: lake, today=lambda: TODAY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "service", lambda: service)
        yield keys


def legacy_call(
    key, from_date="2026-05-10", to_date="2026-05-12", *, resource=RESOURCE_ID, dataset=DATASET_ID, body=None
):
    dated = from_date is not None
    event = load_event("legacy/seed000_date_range" if dated else "legacy/seed000_yesterday")
    params = {"datasetId": dataset, "resourceId": resource}
    if dated:
        params |= {"fromDate": from_date, "toDate": to_date}
    event["pathParameters"] = params
    event["path"] = "/v1/datasets/" + "/".join(params.values())
    if body is None:
        document = json.loads(event["body"])
        document["request"]["licensekey"] = key
        body = json.dumps(document)
    event["body"] = body
    return call_api(event)


def answer_zip(status, headers, body):
    assert status == 200, body
    assert headers["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(body)))


def assert_error(answer, status, code):
    got_status, _, body = answer
    assert got_status == status, body
    assert body["id"] == API_ID
    assert body["params"]["status"] == "failed"
    assert body["params"]["err"] == code
    assert body["params"]["errmsg"]
    assert "result" not in body
    return body


def test_seed_000_request_answers_a_zip_of_one_zip_per_day(license_keys):
    status, headers, body = legacy_call(license_keys["partner"])
    outer = answer_zip(status, headers, body)
    assert sorted(outer.namelist()) == ["2026-05-10.zip", "2026-05-11.zip", "2026-05-12.zip", "manifest.json"]
    assert 'filename="raw-telemetry_2026-05-10_2026-05-12.zip"' in headers["Content-Disposition"]
    for day, expected in PARTNER_EVENTS.items():
        inner = zipfile.ZipFile(io.BytesIO(outer.read(f"{day}.zip")))
        assert sorted(inner.namelist()) == ["events.jsonl", "manifest.json"]
        lines = inner.read("events.jsonl").decode().splitlines()
        assert [json.loads(line)["mid"] for line in lines] == expected
        manifest = json.loads(inner.read("manifest.json"))
        assert manifest["date"] == day
        assert manifest["eventCount"] == len(expected)
        assert manifest["empty"] is (not expected)
        assert manifest["files"][0]["events"] == len(expected)
    empty_day = json.loads(zipfile.ZipFile(io.BytesIO(outer.read("2026-05-11.zip"))).read("manifest.json"))
    assert empty_day["firstEventTime"] is None
    assert empty_day["note"] == "No events for this day"
    first_day = json.loads(zipfile.ZipFile(io.BytesIO(outer.read("2026-05-10.zip"))).read("manifest.json"))
    assert first_day["firstEventTime"] == "2026-05-10T06:00:00.000Z"
    assert first_day["lastEventTime"] == "2026-05-10T23:59:59.000Z"
    manifest = json.loads(outer.read("manifest.json"))
    assert manifest["resourceId"] == RESOURCE_ID
    assert (manifest["fromDate"], manifest["toDate"]) == ("2026-05-10", "2026-05-12")
    assert manifest["eventCount"] == 5
    assert manifest["firstEventTime"] == "2026-05-10T06:00:00.000Z"
    assert manifest["lastEventTime"] == "2026-05-12T02:00:00.000Z"
    assert [(d["file"], d["eventCount"], d["empty"]) for d in manifest["days"]] == [
        ("2026-05-10.zip", 3, False),
        ("2026-05-11.zip", 0, True),
        ("2026-05-12.zip", 2, False),
    ]


def test_without_dates_the_range_is_yesterday(license_keys):
    outer = answer_zip(*legacy_call(license_keys["partner"], None))
    assert sorted(outer.namelist()) == ["2026-05-19.zip", "manifest.json"]
    manifest = json.loads(outer.read("manifest.json"))
    assert (manifest["fromDate"], manifest["toDate"], manifest["eventCount"]) == ("2026-05-19", "2026-05-19", 0)


def test_a_full_month_of_31_days_is_allowed(license_keys):
    outer = answer_zip(*legacy_call(license_keys["partner"], "2026-04-19", "2026-05-19"))
    assert len(outer.namelist()) == 32  # 31 days and the manifest


@pytest.mark.parametrize(
    "body",
    ["not json", "", "[]", '{"request": "a string"}', '{"request": {"licensekey": 42}}', "\xff\xfe"],
)
def test_unparsable_bodies_are_invalid_data_errors(license_keys, body):
    assert_error(legacy_call(None, body=body), 400, "INVALID_DATA_ERROR")


@pytest.mark.parametrize(
    ("from_date", "to_date"),
    [
        ("2026-5-10", "2026-05-12"),  # malformed
        ("2026-05-10", "20260512"),  # malformed
        ("2026-02-30", "2026-03-01"),  # not a date
        ("2026-05-12", "2026-05-10"),  # from after to
        ("2026-05-18", "2026-05-20"),  # to is today
        ("2026-05-18", "2026-06-01"),  # to after today
    ],
)
def test_bad_dates_are_invalid_date(license_keys, from_date, to_date):
    assert_error(legacy_call(license_keys["partner"], from_date, to_date), 400, "INVALID_DATE")


def test_more_than_31_days_is_date_range_too_large(license_keys):
    body = assert_error(legacy_call(license_keys["partner"], "2026-04-18", "2026-05-19"), 400, "DATE_RANGE_TOO_LARGE")
    assert "31" in body["params"]["errmsg"]


@pytest.mark.parametrize("key", ["lic_unknown", "", "revoked"])
def test_unknown_missing_or_revoked_license_keys_fail_login(license_keys, key):
    assert_error(legacy_call(license_keys.get(key, key)), 401, "LOGIN_FAILED")


def test_a_body_without_a_license_key_fails_login(license_keys):
    assert_error(legacy_call(None, body='{"request": {}}'), 401, "LOGIN_FAILED")


@pytest.mark.parametrize(
    ("key", "resource", "dataset"),
    [
        ("other_resource", RESOURCE_ID, DATASET_ID),  # the key is another partner's
        ("partner", "f" * 40, DATASET_ID),  # a resource the key is not associated with
        ("partner", RESOURCE_ID, "progress-exhaust"),  # a dataset the key is not associated with
        ("not_legacy", RESOURCE_ID, "progress-exhaust"),  # associated, but not a dataset of this API
    ],
)
def test_keys_without_access_to_the_resource_or_dataset_fail_authorization(license_keys, key, resource, dataset):
    answer = legacy_call(license_keys[key], resource=resource, dataset=dataset)
    assert_error(answer, 403, "AUTHORIZATION_FAILED")


def test_errors_echo_msgid_and_never_the_license_key(license_keys):
    _, _, body = legacy_call(license_keys["partner"], "2026-05-12", "2026-05-10")
    assert body["params"]["msgid"] == "ff305d54-85b4-341b-da2f-eb6b9e5460fa"
    assert license_keys["partner"] not in json.dumps(body)


def test_a_technical_failure_is_an_internal_error_without_details(license_keys, monkeypatch):
    from exhaust.api import legacy as api
    from exhaust.legacy.service import LegacyService

    def broken_lake():
        raise OSError("lake bucket unreachable: s3://secret-bucket")

    service = LegacyService(lake_opener=broken_lake, today=lambda: TODAY)
    monkeypatch.setattr(api, "service", lambda: service)
    body = assert_error(legacy_call(license_keys["partner"]), 500, "INTERNAL_ERROR")
    assert "secret-bucket" not in json.dumps(body)


def test_a_large_answer_is_a_303_to_a_presigned_link_under_legacy(license_keys, lake, monkeypatch, aws_settings):
    from exhaust import aws
    from exhaust.api import legacy as api
    from exhaust.legacy.service import LegacyService

    small_inline = aws_settings.model_copy(update={"max_inline_download_bytes": 100})
    service = LegacyService(lake_opener=lambda: lake, settings=small_inline, today=lambda: TODAY)
    monkeypatch.setattr(api, "service", lambda: service)
    status, headers, body = legacy_call(license_keys["partner"])
    assert status == 303, body
    location = urlsplit(headers["Location"])
    assert "X-Amz-Signature=" in location.query
    key = location.path.split(f"/{aws_settings.exhaust_bucket}/", 1)[-1].lstrip("/")
    assert key.startswith("legacy/")
    assert key.endswith("/raw-telemetry_2026-05-10_2026-05-12.zip")
    stored = aws.client("s3").get_object(Bucket=aws_settings.exhaust_bucket, Key=key)
    assert stored["ContentType"] == "application/zip"
    outer = zipfile.ZipFile(io.BytesIO(stored["Body"].read()))
    assert "2026-05-11.zip" in outer.namelist()


def legacy_call_from(source, key, **kwargs):
    """legacy_call, from another address."""
    original = load_event

    def with_source(name):
        event = original(name)
        event["requestContext"]["identity"]["sourceIp"] = source
        return event

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(globals(), "load_event", with_source)
        return legacy_call(key, **kwargs)


def test_a_source_trying_many_wrong_keys_is_locked_out_with_retry_after(license_keys):
    """Issue 28: 300 wrong license keys in 2 s, no throttling."""
    from exhaust.auth.lockout import FAILURE_WINDOW_SECONDS, MAX_FAILURES_PER_SOURCE

    scanner = "198.51.100.7"
    for attempt in range(MAX_FAILURES_PER_SOURCE):
        assert_error(legacy_call_from(scanner, f"lic_guess_{attempt}"), 401, "LOGIN_FAILED")
    status, headers, body = legacy_call_from(scanner, license_keys["partner"])
    assert status == 429, body
    assert body["params"]["err"] == "TOO_MANY_REQUESTS"
    assert "from this address" in body["params"]["errmsg"]
    assert 1 <= int(headers["Retry-After"]) <= FAILURE_WINDOW_SECONDS
    # Another address with a good key is not held by this one's failures.
    answer_zip(*legacy_call_from("198.51.100.8", license_keys["partner"]))


def test_one_wrong_key_tried_from_many_addresses_is_locked_out(license_keys):
    from exhaust.auth.lockout import MAX_FAILURES_PER_KEY

    for number in range(MAX_FAILURES_PER_KEY):
        assert_error(legacy_call_from(f"192.0.2.{number}", "lic_one_guess"), 401, "LOGIN_FAILED")
    status, headers, body = legacy_call_from("192.0.2.200", "lic_one_guess")
    assert status == 429, body
    assert "with this license key" in body["params"]["errmsg"]
    assert "lic_one_guess" not in json.dumps(body)  # the key is never echoed
    assert "Retry-After" in headers
