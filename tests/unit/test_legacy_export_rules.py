"""Pure rules of the legacy and export APIs: date ranges, query parsing and the CKAN writers' edge cases."""

import csv
import datetime as dt
import io
import json
from xml.etree import ElementTree

import pytest
from exhaust.export.formats import WRITERS, Field
from exhaust.export.query import parse_query
from exhaust.legacy import rules
from exhaust.legacy.errors import DateRangeTooLarge, InvalidDate

TODAY = dt.date(2026, 3, 1)
FIELDS = (
    Field("_id", "int", "integer", ""),
    Field("name", "text", "string", ""),
    Field("value", "numeric", "number", ""),
)
AWKWARD = [(1, 'a "quoted", <tagged> & text\nover lines', 1.5), (2, None, None), (3, "ok\x01", 0.0)]


def test_dates_default_to_yesterday_and_leap_days_count():
    assert rules.date_range(None, None, TODAY).days == [dt.date(2026, 2, 28)]
    assert len(rules.date_range("2026-01-29", "2026-02-28", TODAY).days) == 31
    with pytest.raises(DateRangeTooLarge):
        rules.date_range("2026-01-28", "2026-02-28", TODAY)
    with pytest.raises(InvalidDate):
        rules.date_range("2026-02-29", "2026-02-28", TODAY)  # 2026 is not a leap year


def test_a_lower_dataset_limit_wins():
    with pytest.raises(DateRangeTooLarge, match="At most 7 days"):
        rules.date_range("2026-02-01", "2026-02-08", TODAY, max_days=7)


def test_query_lists_are_deduplicated_and_dates_inclusive():
    query = parse_query("xml", "2026-02-01", "2026-02-01", ["sensor", "sensor"], ["c"])
    assert query.format == "XML"
    assert query.types == ("sensor",)
    assert query.date_from is not None
    assert query.date_to is not None
    assert query.date_to - query.date_from == dt.timedelta(days=1) - dt.timedelta(milliseconds=1)


def write(export_format):
    output = io.BytesIO()
    writer = WRITERS[export_format](output, FIELDS)
    writer.begin()
    writer.write_rows(AWKWARD[:2])
    writer.write_rows(AWKWARD[2:])
    writer.end()
    return output.getvalue()


def test_csv_quotes_what_needs_it_and_writes_null_as_empty():
    rows = list(csv.reader(io.StringIO(write("CSV").decode("utf-8"), newline="")))
    assert rows == [["_id", "name", "value"], ["1", AWKWARD[0][1], "1.5"], ["2", "", ""], ["3", "ok\x01", "0.0"]]


def test_json_keeps_nulls_and_types():
    document = json.loads(write("JSON"))
    assert document["records"] == [list(row) for row in AWKWARD]


def test_xml_escapes_text_marks_nulls_nil_and_drops_characters_xml_cannot_carry():
    root = ElementTree.fromstring(write("XML"))
    rows = root.findall("row")
    assert rows[0].findtext("name") == AWKWARD[0][1]
    null_name = rows[1].find("name")
    assert null_name is not None
    assert null_name.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    assert rows[2].findtext("name") == "ok"


def test_export_times_are_utc_iso_with_milliseconds_only_when_there_are_some():
    import pyarrow as pa
    from exhaust.export.reader import format_times

    times = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, 0, 0, 1, 123000, tzinfo=dt.UTC), None]
    column = pa.array(times, pa.timestamp("ms", tz="UTC"))
    assert format_times(column).to_pylist() == ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01.123Z", None]
