"""The legacy dataset API and the export API over real HTTP against local mode, with the credentials file's samples."""

import csv
import datetime as dt
import io
import json
import urllib.error
import urllib.request
import zipfile
from xml.etree import ElementTree


def http(credentials, method, path, body=None):
    """(status, headers, bytes) of one call; urllib follows a 303 as curl -L does."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(credentials["baseUrl"] + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def legacy_body(license_key):
    return {
        "id": "ekstep.data_exhaust_dataset_service",
        "ver": "1.0",
        "params": {"msgid": "e2e-legacy"},
        "request": {"licensekey": license_key},
    }


def days_ago(days):
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()


def test_legacy_download_of_the_sample_partner_has_one_zip_per_day_with_its_events(local_service):
    credentials = local_service.credentials
    samples = credentials["samples"]
    first, last = days_ago(3), days_ago(1)
    path = f"/v1/datasets/{samples['legacyDatasetId']}/{samples['resourceId']}/{first}/{last}"
    status, headers, data = http(credentials, "POST", path, legacy_body(samples["licenseKey"]))
    assert status == 200, data[:500]
    assert headers["Content-Type"] == "application/zip"
    outer = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(outer.namelist()) == [f"{days_ago(n)}.zip" for n in (3, 2, 1)] + ["manifest.json"]
    manifest = json.loads(outer.read("manifest.json"))
    assert manifest["resourceId"] == samples["resourceId"]
    assert manifest["eventCount"] > 0
    day = zipfile.ZipFile(io.BytesIO(outer.read(f"{last}.zip")))
    events = [json.loads(line) for line in day.read("events.jsonl").decode().splitlines()]
    assert events
    assert {event["context"]["pdata"]["id"] for event in events} == {samples["partnerId"]}
    assert json.loads(day.read("manifest.json"))["eventCount"] == len(events)


def test_legacy_errors_over_http_use_the_seed_codes(local_service):
    credentials = local_service.credentials
    samples = credentials["samples"]
    base = f"/v1/datasets/{samples['legacyDatasetId']}/{samples['resourceId']}"
    status, _, data = http(credentials, "POST", base, legacy_body("lic_not-a-key"))
    assert (status, json.loads(data)["params"]["err"]) == (401, "LOGIN_FAILED")
    today = days_ago(0)
    status, _, data = http(credentials, "POST", f"{base}/{today}/{today}", legacy_body(samples["licenseKey"]))
    assert (status, json.loads(data)["params"]["err"]) == (400, "INVALID_DATE")
    assert samples["licenseKey"] not in data.decode()


def test_export_csv_json_xml_of_the_sample_lake_parse_back(local_service):
    credentials = local_service.credentials
    query = f"?date_from={days_ago(5)}&date_to={days_ago(4)}&types=sensor&units=celsius"
    status, headers, data = http(credentials, "GET", "/api/export/CSV" + query)
    assert status == 200, data[:500]
    assert headers["Content-Type"] == "application/zip"
    rows = list(csv.DictReader(io.StringIO(zipfile.ZipFile(io.BytesIO(data)).read("observations.csv").decode())))
    assert rows
    assert {(row["producer_type"], row["unit"]) for row in rows} == {("sensor", "celsius")}
    assert all(days_ago(5) <= row["observed_at"][:10] <= days_ago(4) for row in rows)

    _, _, data = http(credentials, "GET", "/api/export/json" + query)
    document = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("observations.json"))
    assert len(document["records"]) == len(rows)

    _, _, data = http(credentials, "GET", "/api/export/xml" + query)
    root = ElementTree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("observations.xml"))
    assert len(root.findall("row")) == len(rows)


def test_export_errors_empty_results_and_the_ui_over_http(local_service):
    credentials = local_service.credentials
    status, _, data = http(credentials, "GET", "/api/export/pdf")
    assert status == 400
    assert "'pdf'" in json.loads(data)["params"]["errmsg"]
    status, _, data = http(credentials, "GET", "/api/export/csv?date_to=31-12-2026")
    assert status == 400
    assert "date_to" in json.loads(data)["params"]["errmsg"]
    status, _, data = http(credentials, "GET", "/api/export/csv?units=celsius&date_from=2099-01-01")
    assert (status, data) == (204, b"")
    status, _, data = http(credentials, "GET", "/api/export/csv?units=GHz")
    assert status == 400  # a unit no observation has: a typo, named with the units that exist (issue 28)
    assert "units: no observation has 'GHz'" in json.loads(data)["params"]["errmsg"]
    status, headers, data = http(credentials, "GET", "/api/export/ui")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"/api/export/{format}" in data
