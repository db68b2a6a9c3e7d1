"""Issue 17, big legacy and export answers: what cannot be answered within API Gateway's 29 s is refused at once,
in each API's envelope, with a message that says how to narrow the request; what fits is answered as before.

The caps are lowered here so that a lake of a few dozen rows is "too big"; the real caps are measured in
bench/bench_answers.py (docs/benchmarks.md). Each refusal is decided from the Parquet footers: the tests make
reading any row fail, and the refusal still comes.
"""

import base64
import datetime as dt
import io
import json
import re
import zipfile

import pyarrow as pa
import pytest

from tests.conftest import call_api, load_event
from tests.integration.lake_samples import OBSERVATIONS, at, observation, telemetry_row

TODAY = dt.date(2026, 5, 20)
PARTNER = "org.busy.partner"
QUIET_PARTNER = "org.quiet.partner"
EVENTS_PER_DAY = 5
DAYS = [dt.date(2026, 5, 1) + dt.timedelta(days=offset) for offset in range(10)]  # 05-01 .. 05-10
LEGACY_API = "ekstep.data_exhaust_dataset_service"
EXPORT_API = "api.export"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from exhaust.lake import schemas
    from exhaust.lake.store import Lake

    def day_of_events(day):
        rows = [
            telemetry_row(day.isoformat(), PARTNER, f"busy-{day:%d}-{index}", f"0{index}:00:00")
            for index in range(EVENTS_PER_DAY)
        ]
        rows.append(telemetry_row(day.isoformat(), QUIET_PARTNER, f"quiet-{day:%d}", "09:00:00"))
        return pa.Table.from_pylist(rows, schema=schemas.TELEMETRY)

    lake = Lake.open(str(tmp_path_factory.mktemp("lake")))
    # A row group per partner and day, as a busy lake has: the footers then tell partners and days apart.
    lake.write("telemetry", [day_of_events(day) for day in DAYS], row_group_size=EVENTS_PER_DAY)
    lake.write("observations", pa.Table.from_pylist(OBSERVATIONS, schema=schemas.OBSERVATIONS), row_group_size=2)
    return lake


@pytest.fixture(scope="module")
def license_key(aws_settings, lake):
    from exhaust.api import export as export_api
    from exhaust.api import legacy as legacy_api
    from exhaust.auth.credentials import CredentialStore, resource_id_of
    from exhaust.export.service import ExportService
    from exhaust.legacy.service import LegacyService

    resources = [resource_id_of(PARTNER), resource_id_of(QUIET_PARTNER)]
    key = CredentialStore().create("license", "busy", resource_ids=resources, datasets=["raw-telemetry"])[0]
    legacy = LegacyService(lake_opener=lambda: lake, today=lambda: TODAY)
    export = ExportService(lake_opener=lambda: lake)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(legacy_api, "service", lambda: legacy)
        patch.setattr(export_api, "service", lambda: export)
        yield key


def legacy_call(key, from_date, to_date, partner=PARTNER):
    from exhaust.auth.credentials import resource_id_of

    event = load_event("legacy/seed000_date_range")
    params = {"datasetId": "raw-telemetry", "resourceId": resource_id_of(partner), "fromDate": from_date,
              "toDate": to_date}  # fmt: skip
    event["pathParameters"] = params
    event["path"] = "/v1/datasets/" + "/".join(params.values())
    document = json.loads(event["body"])
    document["request"]["licensekey"] = key
    event["body"] = json.dumps(document)
    return call_api(event)


def export_call(export_format, query):
    event = load_event("export/csv_filtered")
    event["pathParameters"] = {"format": export_format}
    event["path"] = f"/api/export/{export_format}"
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()} or None
    event["queryStringParameters"] = dict(query) or None
    return call_api(event)


@pytest.fixture
def no_row_is_read(monkeypatch):
    """Reading rows fails: what answers anyway was decided from the footers alone."""
    from exhaust.export import reader as export_reader
    from exhaust.legacy.reader import TelemetryReader

    def refuse(*_args, **_kwargs):
        raise AssertionError("rows were read before the refusal")

    monkeypatch.setattr(TelemetryReader, "events", refuse)
    monkeypatch.setattr(export_reader, "observation_batches", refuse)


def events_of(status, headers, body):
    assert status == 200, body
    outer = zipfile.ZipFile(io.BytesIO(base64.b64decode(body)))
    manifest = json.loads(outer.read("manifest.json"))
    ids = []
    for day in manifest["days"]:
        inner = zipfile.ZipFile(io.BytesIO(outer.read(day["file"])))
        ids += [json.loads(line)["mid"] for line in inner.read("events.jsonl").decode().splitlines()]
    return manifest, ids


def test_a_legacy_range_over_the_cap_is_refused_at_once_saying_how_many_days_fit(
    license_key, monkeypatch, no_row_is_read
):
    from exhaust.legacy import service

    monkeypatch.setattr(service, "MAX_SYNC_EVENTS", 3 * EVENTS_PER_DAY)
    status, _, body = legacy_call(license_key, "2026-05-01", "2026-05-10")
    assert status == 422, body
    assert body["id"] == LEGACY_API
    assert (body["params"]["status"], body["params"]["err"]) == ("failed", "DATE_RANGE_TOO_LARGE")
    assert body["params"]["msgid"]  # seed 000's msgid is echoed, as for every legacy error
    message = body["params"]["errmsg"]
    assert "50 events" in message
    assert "at most 3 day(s) per call (e.g. 2026-05-01..2026-05-03)" in message
    assert "29 s" in message


def test_the_range_the_refusal_suggests_is_answered_whole(license_key, monkeypatch):
    from exhaust.legacy import service

    monkeypatch.setattr(service, "MAX_SYNC_EVENTS", 3 * EVENTS_PER_DAY)
    refusal = legacy_call(license_key, "2026-05-01", "2026-05-10")[2]["params"]["errmsg"]
    suggested = re.search(r"e\.g\. (\S+)\.\.(\S+)\)", refusal)
    assert suggested is not None, refusal
    first, last = suggested.groups()
    manifest, ids = events_of(*legacy_call(license_key, first, last))
    assert (manifest["fromDate"], manifest["toDate"], manifest["eventCount"]) == (first, last, 15)
    assert ids == [f"busy-{day:02d}-{index}" for day in (1, 2, 3) for index in range(EVENTS_PER_DAY)]


def test_the_cap_counts_only_the_partners_own_row_groups(license_key, monkeypatch):
    """A quiet partner of a busy lake is not refused for its neighbour's volume."""
    from exhaust.legacy import service

    monkeypatch.setattr(service, "MAX_SYNC_EVENTS", 3 * EVENTS_PER_DAY)
    manifest, ids = events_of(*legacy_call(license_key, "2026-05-01", "2026-05-10", partner=QUIET_PARTNER))
    assert manifest["eventCount"] == 10
    assert ids == [f"quiet-{day:%d}" for day in DAYS]


def test_an_export_over_its_formats_cap_is_refused_at_once_saying_what_to_narrow(
    license_key, monkeypatch, no_row_is_read
):
    from exhaust.export import service

    monkeypatch.setattr(service, "MAX_SYNC_ROWS", {"CSV": 4, "JSON": 4, "XML": 2})
    status, _, body = export_call("xml", {"date_from": "2026-05-01", "date_to": "2026-05-03"})
    assert status == 422, body
    assert body["id"] == EXPORT_API
    assert body["params"]["err"] == "EXPORT_TOO_LARGE"
    message = body["params"]["errmsg"]
    assert "up to 6 rows" in message
    assert "at most 2" in message
    assert "date_from and date_to" in message
    assert "ask for CSV (up to 4 rows)" in message


def test_a_narrower_export_is_answered_with_the_same_rows_as_before(license_key, monkeypatch):
    from exhaust.export import service

    monkeypatch.setattr(service, "MAX_SYNC_ROWS", {"CSV": 4, "JSON": 4, "XML": 2})
    status, _, body = export_call("json", {"date_from": "2026-05-01", "date_to": "2026-05-01"})
    assert status == 200, body
    document = json.loads(zipfile.ZipFile(io.BytesIO(base64.b64decode(body))).read("observations.json"))
    expected = [row for row in OBSERVATIONS if row["observed_at"] < at("2026-05-02T00:00:00")]
    assert [record[1:] for record in document["records"]] == [
        [f"{row['observed_at']:%Y-%m-%dT%H:%M:%SZ}", *(row[name] for name in ("producer_type", "producer_id",
         "metric", "unit", "value"))] for row in expected
    ]  # fmt: skip


def test_the_openapi_documents_list_the_422(license_key):
    from exhaust.api.export_ui import export_document
    from exhaust.api.routes import document

    paths = document()["paths"]
    assert "422" in paths["/v1/datasets/{datasetId}/{resourceId}/{fromDate}/{toDate}"]["post"]["responses"]
    assert "422" in paths["/api/export/{format}"]["get"]["responses"]
    assert "422" in export_document()["paths"]["/api/export/{format}"]["get"]["responses"]


def test_awkward_values_come_out_as_before_at_batch_scale(license_key, tmp_path, monkeypatch):
    """The column-wise CSV matches Python's csv module value for value, for numbers of every magnitude."""
    import csv

    from exhaust.api import export as api
    from exhaust.export.service import ExportService
    from exhaust.lake import schemas
    from exhaust.lake.store import Lake

    values = [0.0, -0.0, 40.0, 1e-05, 0.0001, 123456789.5, 1e10, 1.5e16, float("inf"), 0.1 + 0.2, -2.25]
    rows = [
        observation(f"2026-05-01T00:00:{index:02d}", "sensor", f'p,"{index}"\n', "m", "ünit", value)
        for index, value in enumerate(values)
    ]
    lake = Lake.open(str(tmp_path))
    lake.write("observations", pa.Table.from_pylist(rows, schema=schemas.OBSERVATIONS))
    monkeypatch.setattr(api, "service", lambda: ExportService(lake_opener=lambda: lake))
    status, _, body = export_call("csv", {})
    text = zipfile.ZipFile(io.BytesIO(base64.b64decode(body))).read("observations.csv").decode()
    expected = io.StringIO()
    csv.writer(expected).writerows(
        [["_id", "observed_at", "producer_type", "producer_id", "metric", "unit", "value"]]
        + [[n, f"{row['observed_at']:%Y-%m-%dT%H:%M:%SZ}", "sensor", row["producer_id"], "m", "ünit", row["value"]]
           for n, row in enumerate(rows, start=1)]
    )  # fmt: skip
    assert (status, text) == (200, expected.getvalue())
