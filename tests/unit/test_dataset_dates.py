"""The date rules of dataset get, on fixed days (no AWS)."""

import datetime as dt

import pytest
from exhaust.errors import BadRequest
from exhaust.standard.dates import DateQuery, DateRange, preset_range, resolve_range
from exhaust.standard.files import day_of, keys_by_day

TODAY = dt.date(2026, 11, 19)  # a Thursday


def resolve(presets=True, max_days=10, retention=90, **query):
    return resolve_range(
        DateQuery(**query), TODAY, max_range_days=max_days, retention_days=retention, presets_allowed=presets
    )


def refused(**kwargs) -> str:
    with pytest.raises(BadRequest) as caught:
        resolve(**kwargs)
    return caught.value.message


def d(text):
    return dt.date.fromisoformat(text)


def test_defaults_are_yesterday_to_today():
    assert resolve() == DateRange(d("2026-11-18"), TODAY)


def test_since_is_from_until_today():
    assert resolve(since="2026-11-15") == DateRange(d("2026-11-15"), TODAY)
    assert resolve(since="2026-11-15", to="2026-11-16") == DateRange(d("2026-11-15"), d("2026-11-16"))


def test_range_length_counts_both_ends():
    assert resolve(from_="2026-11-09", to="2026-11-18").days == 10
    assert refused(from_="2026-11-08", to="2026-11-18").startswith("from: the range 2026-11-08 to 2026-11-18 covers 11")


@pytest.mark.parametrize(
    "value", ["2026-1-5", "2026/01/05", "05-01-2026", "2026-02-29", "", "2026-01-05T00:00", "2026-W01-1", "2026-001"]
)
def test_malformed_dates_name_the_parameter(value):
    assert refused(to=value) == f"to: '{value}' is not a date in the YYYY-MM-DD format"


def test_to_after_today_and_negative_range():
    assert refused(to="2026-11-20") == "to: 2026-11-20 is after today (2026-11-19)"
    assert refused(since="2026-11-10", to="2026-11-09").startswith("since: 2026-11-10 is after to (2026-11-09)")
    # `from` defaults to yesterday, so a `to` before it is a negative range too.
    assert refused(to="2026-11-10") == (
        "to: 2026-11-10 is before 2026-11-18, the default of from (yesterday); give from as well"
    )


def test_retention_window():
    assert resolve(from_="2026-08-21", to="2026-08-21").start == d("2026-08-21")
    assert refused(date="2026-08-20") == (
        "date: 2026-08-20 is older than this dataset's retention of 90 days (earliest 2026-08-21)"
    )


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("LAST_DAY", "2026-11-18", "2026-11-18"),
        ("LAST_2_DAYS", "2026-11-17", "2026-11-18"),
        ("LAST_7_DAYS", "2026-11-12", "2026-11-18"),
        ("LAST_14_DAYS", "2026-11-05", "2026-11-18"),
        ("LAST_30_DAYS", "2026-10-20", "2026-11-18"),
        ("LAST_WEEK", "2026-11-09", "2026-11-15"),
        ("last_week", "2026-11-09", "2026-11-15"),
    ],
)
def test_presets(preset, start, end):
    assert preset_range(preset, TODAY) == DateRange(d(start), d(end))


def test_last_week_on_a_monday_and_a_sunday():
    assert preset_range("LAST_WEEK", d("2026-11-16")) == DateRange(d("2026-11-09"), d("2026-11-15"))
    assert preset_range("LAST_WEEK", d("2026-11-22")) == DateRange(d("2026-11-09"), d("2026-11-15"))


def test_last_30_days_fits_a_30_day_limit():
    assert resolve(date_range="LAST_30_DAYS", max_days=30).days == 30


def test_presets_and_single_date_are_public_only():
    # The standard route never passes them; with presets off only from/since/to count.
    assert resolve(presets=False, from_="2026-11-17") == DateRange(d("2026-11-17"), TODAY)
    assert resolve(date="2026-11-10") == DateRange(d("2026-11-10"), d("2026-11-10"))
    assert refused(date="2026-11-10", to="2026-11-12") == (
        "date: cannot be combined with to; give one way of naming the days"
    )


def test_keys_by_day_keeps_the_range_and_groups_parts():
    class Lister:
        def __init__(self, keys):
            self.keys = sorted(keys)
            self.start_after = None

        def keys_after(self, bucket, prefix, start_after):
            self.start_after = start_after
            return iter(key for key in self.keys if key.startswith(prefix) and key > start_after)

    prefix = "data-exhaust/x/c/"
    keys = [f"{prefix}2026-11-{n:02d}.csv" for n in range(1, 19)] + [f"{prefix}2026-11-10-part-2.csv", f"{prefix}notes"]
    lister = Lister(keys)
    found = keys_by_day(lister, "bucket", prefix, DateRange(d("2026-11-09"), d("2026-11-10")))
    assert found == {
        d("2026-11-09"): [f"{prefix}2026-11-09.csv"],
        d("2026-11-10"): [f"{prefix}2026-11-10-part-2.csv", f"{prefix}2026-11-10.csv"],
    }
    assert lister.start_after == f"{prefix}2026-11-08~"
    assert day_of(f"{prefix}notes", prefix) is None
