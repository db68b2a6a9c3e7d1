"""The catalog the Plan step asks: batch lookups, batchFilter and searchFilter resolution."""

from __future__ import annotations

import pytest
from exhaust.lake.catalog import Catalog

from tests.unit.handmade_lake import CHANNEL, write_handmade_lake


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return Catalog(write_handmade_lake(tmp_path_factory.mktemp("catalog")))


def test_batch_lookup_carries_its_collection(catalog):
    batch = catalog.batch("B1")
    assert batch is not None
    assert (batch.name, batch.collection_id, batch.channel) == ("Batch one", "C1", CHANNEL)
    assert batch.requires_consent
    assert not batch.retired
    assert batch.collection.status == "Live"
    assert [unit.unit_id for unit in batch.collection.trackable_units] == ["U1", "U1A"]
    assert [item.assessment_id for item in batch.collection.scored_assessments] == ["A1", "A2"]


def test_retired_and_unknown_batches(catalog):
    assert catalog.batch("B4").retired
    assert catalog.batch("B4").collection.status == "Retired"
    assert catalog.batch("nope") is None


def test_batch_filter_is_deduplicated_and_drops_unknown_ids_keeping_order(catalog):
    assert catalog.resolve_batch_filter(["B2", "nope", "B1", "B2"]) == ["B2", "B1"]
    assert catalog.resolve_batch_filter([]) == []


def test_search_filter_by_channel_and_identifiers(catalog):
    search = {"request": {"filters": {"contentType": "Course", "channel": CHANNEL, "identifier": ["C1"]}, "limit": 5}}
    assert catalog.resolve_search_filter(search) == ["B1", "B2"]


def test_search_filter_without_identifiers_takes_the_channels_collections_up_to_the_limit(catalog):
    everything = {"request": {"filters": {"contentType": "Course", "channel": CHANNEL}, "limit": 49}}
    # Retired collections are kept: the Plan step tells them apart to answer its own message.
    assert catalog.resolve_search_filter(everything) == ["B1", "B2", "B3", "B4"]
    limited = {"request": {"filters": {"contentType": "Course", "channel": CHANNEL}, "limit": 1}}
    assert catalog.resolve_search_filter(limited) == ["B1", "B2"]


def test_search_filter_never_crosses_channels_or_content_types(catalog):
    other = {"request": {"filters": {"contentType": "Course", "channel": "ch-b"}, "limit": 10}}
    assert catalog.resolve_search_filter(other) == ["B5"]
    assert catalog.search_batches(channel=CHANNEL, identifiers=["C4"]) == []
    assert catalog.search_batches(channel=CHANNEL, content_type="Resource") == []


@pytest.mark.parametrize(
    ("end_date", "today", "expired"),
    [
        ("2025-01-01", "2026-01-01", False),  # exactly 365 days after the end: still current
        ("2025-01-01", "2026-01-02", True),
        (None, "2099-01-01", False),  # no end date: never expires
    ],
)
def test_a_batch_expires_once_its_end_is_further_back_than_the_setting(catalog, end_date, today, expired):
    import dataclasses
    import datetime as dt

    batch = dataclasses.replace(catalog.batch("B1"), end_date=end_date)
    assert batch.expired(dt.date.fromisoformat(today), 365) is expired


@pytest.mark.parametrize(("first", "last"), [("B2", "B3"), ("B1", "B1"), ("B4", "B9"), ("A", "A9"), ("", "")])
def test_a_parts_catalog_holds_its_batches_as_the_whole_catalog_does_and_nothing_else(catalog, first, last):
    part = Catalog(catalog.lake, batch_range=(first, last))
    inside = {batch_id: batch for batch_id, batch in catalog.batches.items() if first <= batch_id <= last}
    assert part.batches == inside
    assert set(part.collections) == {batch.collection_id for batch in inside.values()}
    assert all(part.collections[key] == catalog.collections[key] for key in part.collections)


def test_reading_the_catalog_leaves_pandas_unimported(catalog):
    """pyarrow imports pandas (about 0.25 s) to convert a zoned timestamp where pandas is installed: the builders'
    catalog reads no such column."""
    import subprocess
    import sys

    pytest.importorskip("pandas")  # installed with the spark extra: where the cost would show
    script = (
        "import sys\nfrom exhaust.lake.catalog import Catalog\nfrom exhaust.lake.store import Lake\n"
        f"catalog = Catalog(Lake.open({catalog.lake.root!r}))\n"
        "assert catalog.batches and catalog.collections\nprint('pandas' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
