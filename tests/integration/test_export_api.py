"""The format export API (seed 003) on moto, through the route table and the handler."""

import base64
import csv
import io
import json
import zipfile
from hashlib import sha256
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest

from tests.conftest import call_api, load_event
from tests.integration.lake_samples import write_lake

# The sample rows of 2026-05-01 and 05-02 that are sensor readings in celsius or percent, in time order.
FILTERED = [
    ("2026-05-01T00:00:00Z", "sensor", "sensor-1", "temperature", "celsius", 21.5),
    ("2026-05-01T12:00:00Z", "sensor", "sensor-2", "humidity", "percent", 40.0),
    ("2026-05-02T23:59:59Z", "sensor", 'sensor "3", <east>', "temperature", "celsius", -2.25),
]
COLUMNS = ["_id", "observed_at", "producer_type", "producer_id", "metric", "unit", "value"]
FILTERS = {"date_from": ["2026-05-01"], "date_to": ["2026-05-02"], "types": ["sensor"], "units": ["celsius,percent"]}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return write_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module", autouse=True)
def export_service(aws_settings, lake):
    from exhaust.api import export as api
    from exhaust.export.service import ExportService

    service = ExportService(lake_opener=lambda: lake)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "service", lambda: service)
        yield service


def export_call(export_format="csv", query=None):
    event = load_event("export/csv_filtered")
    event["pathParameters"] = {"format": export_format}
    event["path"] = f"/api/export/{export_format}"
    query = FILTERS if query is None else query
    event["multiValueQueryStringParameters"] = query or None
    event["queryStringParameters"] = {key: values[-1] for key, values in query.items()} or None
    return call_api(event)


def answer_zip(answer):
    status, headers, body = answer
    assert status == 200, body
    assert headers["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(body)))


def test_csv_is_ckan_dump_csv_with_the_filtered_rows(aws_settings):
    archive = answer_zip(export_call("csv"))
    assert sorted(archive.namelist()) == ["datapackage.json", "observations.csv"]
    rows = list(csv.reader(io.StringIO(archive.read("observations.csv").decode("utf-8"), newline="")))
    assert rows[0] == COLUMNS
    assert rows[1:] == [[str(n), *(str(value) for value in row)] for n, row in enumerate(FILTERED, start=1)]


def test_json_is_ckan_dump_json_with_fields_and_records(aws_settings):
    archive = answer_zip(export_call("json"))
    document = json.loads(archive.read("observations.json"))
    assert [field["id"] for field in document["fields"]] == COLUMNS
    assert [field["type"] for field in document["fields"]] == ["int", "timestamp", *["text"] * 4, "numeric"]
    assert document["records"] == [[n, *row] for n, row in enumerate(FILTERED, start=1)]


def test_xml_is_ckan_dump_xml_with_one_row_element_per_record(aws_settings):
    archive = answer_zip(export_call("xml"))
    root = ElementTree.fromstring(archive.read("observations.xml"))
    assert root.tag == "data"
    rows = root.findall("row")
    assert [row.get("_id") for row in rows] == ["1", "2", "3"]
    assert [[row.findtext(name) for name in COLUMNS[1:]] for row in rows] == [
        [str(value) for value in row] for row in FILTERED
    ]


@pytest.mark.parametrize("export_format", ["CSV", "Json", "xMl"])
def test_format_is_case_insensitive(aws_settings, export_format):
    archive = answer_zip(export_call(export_format))
    assert f"observations.{export_format.lower()}" in archive.namelist()


def test_datapackage_describes_the_file_its_schema_and_the_filters(aws_settings):
    archive = answer_zip(export_call("json"))
    package = json.loads(archive.read("datapackage.json"))
    resource = package["resources"][0]
    assert resource["path"] == "observations.json"
    assert resource["format"] == "json"
    assert resource["rows"] == 3
    assert resource["hash"] == "sha256:" + sha256(archive.read("observations.json")).hexdigest()
    assert resource["bytes"] == len(archive.read("observations.json"))
    assert [field["name"] for field in resource["schema"]["fields"]] == COLUMNS
    assert package["filters"] == {
        "date_from": "2026-05-01T00:00:00.000Z",
        "date_to": "2026-05-02T23:59:59.999Z",
        "types": ["sensor"],
        "units": ["celsius", "percent"],
    }
    csv_package = json.loads(answer_zip(export_call("csv")).read("datapackage.json"))
    assert csv_package["profile"] == "tabular-data-package"
    assert csv_package["resources"][0]["profile"] == "tabular-data-resource"


def test_repeated_types_no_filters_and_an_open_date_range(aws_settings):
    archive = answer_zip(export_call("json", {"types": ["survey", "device"], "date_from": ["2026-05-02"]}))
    records = json.loads(archive.read("observations.json"))["records"]
    assert [(record[2], record[1]) for record in records] == [("device", "2026-05-02T06:00:00Z")]
    everything = json.loads(answer_zip(export_call("json", {})).read("observations.json"))["records"]
    assert len(everything) == 6


def test_date_times_with_offsets_are_accepted_and_converted_to_utc(aws_settings):
    query = {"date_from": ["2026-05-01T12:30:00+01:00"], "date_to": ["2026-05-01T12:00:00Z"]}
    records = json.loads(answer_zip(export_call("json", query)).read("observations.json"))["records"]
    assert [record[1] for record in records] == ["2026-05-01T12:00:00Z"]


@pytest.mark.parametrize(
    ("parameter", "value"), [("date_from", "01/05/2026"), ("date_to", "2026-13-01"), ("date_from", "yesterday")]
)
def test_bad_dates_are_400_bad_date_format_naming_the_parameter(aws_settings, parameter, value):
    status, _, body = export_call("csv", {parameter: [value]})
    assert status == 400
    assert body["params"]["err"] == "BAD_DATE_FORMAT"
    assert body["params"]["errmsg"].startswith("Bad date format")
    assert parameter in body["params"]["errmsg"]
    assert value in body["params"]["errmsg"]


def test_an_unsupported_format_is_400_echoing_it_and_listing_the_accepted_ones(aws_settings):
    status, _, body = export_call("parquet")
    assert status == 400
    assert body["params"]["err"] == "UNSUPPORTED_FORMAT"
    message = body["params"]["errmsg"]
    assert message.startswith("Unsupported exportation format 'parquet'")
    assert "CSV, JSON, XML" in message


def test_a_reversed_date_range_is_a_400(aws_settings):
    status, _, body = export_call("csv", {"date_from": ["2026-05-03"], "date_to": ["2026-05-01"]})
    assert (status, body["params"]["err"]) == (400, "BAD_DATE_RANGE")


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": ["2027-01-01"]},
        {"types": ["survey"], "units": ["celsius"]},
        {"types": ["sensor"], "date_from": ["2027-01-01"]},
    ],
)
def test_filters_that_leave_no_rows_answer_204_with_no_body(aws_settings, query):
    status, _, body = export_call("csv", query)
    assert (status, body) == (204, "")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"types": ["sensors"]}, "types: no observation has 'sensors'; existing values: device, sensor, survey"),
        ({"units": ["GHz"]}, "units: no observation has 'GHz'; existing values: "),
        ({"types": ["sensorz"], "units": ["celsius"]}, "types: no observation has 'sensorz'; existing values: "),
    ],
)
def test_a_types_or_units_value_no_observation_has_is_refused_naming_the_existing_ones(aws_settings, query, message):
    """Issue 28: `--types sensors` (a typo) said "no rows match" and exited 0."""
    status, _, body = export_call("csv", query)
    assert status == 400, body
    assert body["params"]["err"] == "UNKNOWN_FILTER_VALUE"
    assert body["params"]["errmsg"].startswith(message)
    assert "celsius" in body["params"]["errmsg"] or "types" in body["params"]["errmsg"]


def test_a_large_export_is_a_303_to_a_presigned_link_under_exports(aws_settings, lake, monkeypatch):
    from exhaust import aws
    from exhaust.api import export as api
    from exhaust.export.service import ExportService

    small_inline = aws_settings.model_copy(update={"max_inline_download_bytes": 200})
    service = ExportService(lake_opener=lambda: lake, settings=small_inline)
    monkeypatch.setattr(api, "service", lambda: service)
    status, headers, body = export_call("xml")
    assert status == 303, body
    location = urlsplit(headers["Location"])
    assert "X-Amz-Signature=" in location.query
    key = location.path.split(f"/{aws_settings.exhaust_bucket}/", 1)[-1].lstrip("/")
    assert key.startswith("exports/")
    assert key.endswith("/observations_xml_2026-05-01_2026-05-02.zip")
    stored = aws.client("s3").get_object(Bucket=aws_settings.exhaust_bucket, Key=key)["Body"].read()
    root = ElementTree.fromstring(zipfile.ZipFile(io.BytesIO(stored)).read("observations.xml"))
    assert len(root.findall("row")) == 3


def test_export_ui_is_a_swagger_page_with_the_export_part_of_the_document(aws_settings):
    status, headers, body = call_api(load_event("export_ui/get"))
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in body
    spec = json.loads(body.split("const spec = ", 1)[1].split(";\n", 1)[0])
    assert list(spec["paths"]) == ["/api/export/{format}"]
    operation = spec["paths"]["/api/export/{format}"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {
        "format",
        "date_from",
        "date_to",
        "types",
        "units",
    }
    assert {"200", "204", "303", "400"} <= set(operation["responses"])


def test_a_technical_failure_is_a_500_without_details(aws_settings, monkeypatch):
    from exhaust.api import export as api
    from exhaust.export.service import ExportService

    def broken_lake():
        raise OSError("lake bucket unreachable: s3://secret-lake")

    monkeypatch.setattr(api, "service", lambda: ExportService(lake_opener=broken_lake))
    status, _, body = export_call("csv")
    assert (status, body["params"]["err"]) == (500, "INTERNAL_ERROR")
    assert "secret-lake" not in json.dumps(body)


def test_a_warm_function_sees_the_lake_rewritten_since_its_last_answer(aws_settings, tmp_path, monkeypatch):
    import pyarrow as pa
    from exhaust.api import export as api
    from exhaust.export.service import ExportService
    from exhaust.lake import schemas
    from exhaust.lake.store import Lake

    from tests.integration.lake_samples import OBSERVATIONS

    writer = write_lake(tmp_path)
    warm = ExportService(lake_opener=lambda: Lake.open(str(tmp_path)))
    monkeypatch.setattr(api, "service", lambda: warm)
    before = json.loads(answer_zip(export_call("json", {})).read("observations.json"))["records"]
    writer.write("observations", pa.Table.from_pylist(OBSERVATIONS[:2], schema=schemas.OBSERVATIONS))
    after = json.loads(answer_zip(export_call("json", {})).read("observations.json"))["records"]
    assert (len(before), len(after)) == (6, 2)


# Issue 28: instants at the ends of what a datetime holds, with offsets that push them past either end once in UTC.
DATE_EDGES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:30:00+00:31",
    "9999-12-31T23:59:59.999999-12:00",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59+23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0000-01-01",
    "10000-01-01",
    "2026-02-30",
    "2026-05-01T24:00:00",
    "2026-05-01T00:00:00+24:00",
    "",
    " ",
]


@pytest.mark.parametrize("parameter", ["date_from", "date_to"])
@pytest.mark.parametrize("value", DATE_EDGES)
def test_a_date_at_or_past_the_ends_of_the_calendar_is_answered_or_refused_naming_it(parameter, value):
    status, _, body = export_call("csv", {parameter: [value]})
    assert status in (200, 204, 400), (status, body)
    if status == 400:
        assert body["params"]["status"] == "failed"
        assert parameter in body["params"]["errmsg"], body["params"]["errmsg"]


@pytest.mark.parametrize(
    ("date_from", "date_to"),
    [
        ("0001-01-01T00:00:00+01:00", "2026-12-01"),
        ("0001-01-01T00:30:00+00:31", "2026-12-01"),
        ("2026-01-01", "9999-12-31T23:59:59-01:00"),
        ("0001-01-01", "9999-12-31"),
    ],
)
def test_a_range_reaching_the_ends_of_the_calendar_is_never_a_server_error(date_from, date_to):
    status, _, body = export_call("csv", {"date_from": [date_from], "date_to": [date_to]})
    assert status in (200, 204, 400), (status, body)
    if status == 400:
        assert "date_" in body["params"]["errmsg"]


@pytest.mark.parametrize("parameter", ["date_from", "date_to"])
def test_an_empty_date_is_refused_naming_it(parameter):
    status, _, body = export_call("csv", {parameter: [""]})
    assert status == 400, body
    assert parameter in body["params"]["errmsg"]
