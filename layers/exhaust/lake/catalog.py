"""What the pipeline's Plan step asks the lake: which batches a request means and what they belong to.

    catalog = Catalog(Lake.open("s3://lake-bucket/lake"))
    catalog.batch("batch-1")                     -> BatchInfo | None (with its collection's status and consent flag)
    catalog.resolve_batch_filter(["b1", "b1", "nope"])   -> ["b1"] (deduplicated, unknown ids dropped, order kept)
    catalog.resolve_search_filter(search_filter)  -> batch ids of the Course collections the filter selects

Retired collections are not dropped here: the Plan step needs to tell "no such batch" (`No data found`) from
"only retired collections" (`The request is made for retired collection`), so every BatchInfo says `retired`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from exhaust.lake.schemas import RETIRED, SCORED_CATEGORIES
from exhaust.lake.store import Lake

SEARCH_LIMIT_MAX = 50
COURSE = "Course"


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str
    parent_id: str | None
    depth: int
    trackable: bool
    leaf_count: int | None
    leaf_ids: tuple[str, ...]


@dataclass(frozen=True)
class Assessment:
    assessment_id: str
    name: str
    category: str
    unit_id: str | None

    @property
    def scored(self) -> bool:
        return self.category in SCORED_CATEGORIES


@dataclass(frozen=True)
class CollectionInfo:
    collection_id: str
    name: str
    channel: str
    content_type: str
    status: str
    requires_consent: bool
    leaf_count: int | None
    leaf_ids: tuple[str, ...] = ()
    units: tuple[Unit, ...] = ()
    assessments: tuple[Assessment, ...] = ()

    @property
    def retired(self) -> bool:
        return self.status == RETIRED

    @property
    def trackable_units(self) -> tuple[Unit, ...]:
        """Nested trackable collections, in hierarchy order (depth first, as stored)."""
        return tuple(unit for unit in self.units if unit.trackable)

    @property
    def scored_assessments(self) -> tuple[Assessment, ...]:
        return tuple(assessment for assessment in self.assessments if assessment.scored)


@dataclass(frozen=True)
class BatchInfo:
    batch_id: str
    name: str
    collection: CollectionInfo
    start_date: str | None = None
    end_date: str | None = None

    @property
    def collection_id(self) -> str:
        return self.collection.collection_id

    @property
    def retired(self) -> bool:
        return self.collection.retired

    @property
    def requires_consent(self) -> bool:
        return self.collection.requires_consent

    @property
    def channel(self) -> str:
        return self.collection.channel

    def expired(self, today: dt.date, expiry_days: int) -> bool:
        """Ended more than `expiry_days` before `today` (a batch without an end date never expires)."""
        if self.end_date is None:
            return False
        return (today - dt.date.fromisoformat(self.end_date)).days > expiry_days


def _collection(row: Mapping[str, Any]) -> CollectionInfo:
    return CollectionInfo(
        collection_id=row["collection_id"],
        name=row["name"] or "",
        channel=row["channel"] or "",
        content_type=row["content_type"] or "",
        status=row["status"] or "",
        requires_consent=bool(row["requires_consent"]),
        leaf_count=row["leaf_count"],
        leaf_ids=tuple(row["leaf_ids"] or ()),
        units=tuple(
            Unit(
                unit_id=unit["unit_id"],
                name=unit["name"] or "",
                parent_id=unit["parent_id"],
                depth=unit["depth"] or 0,
                trackable=bool(unit["trackable"]),
                leaf_count=unit["leaf_count"],
                leaf_ids=tuple(unit["leaf_ids"] or ()),
            )
            for unit in row["units"] or ()
        ),
        assessments=tuple(
            Assessment(
                assessment_id=item["assessment_id"],
                name=item["name"] or "",
                category=item["category"] or "",
                unit_id=item["unit_id"],
            )
            for item in row["assessments"] or ()
        ),
    )


# What the catalog reads of each table. Not collections' created_on: converting a zoned timestamp to Python makes
# pyarrow import pandas where it is installed (a quarter of a second, in the development environment and the Spark
# image; the builder image has no pandas).
COLLECTION_COLUMNS = ("collection_id", "name", "channel", "content_type", "status", "requires_consent", "leaf_count",
                      "leaf_ids", "units", "assessments")  # fmt: skip
BATCH_COLUMNS = ("batch_id", "collection_id", "name", "start_date", "end_date")


@dataclass
class Catalog:
    """Collections and batches of a lake, read once (both tables are small: one row per course or batch).

    With `batch_range` (first, last batch id, inclusive), only those batches and their courses: what an index task
    needs for its part, so a worker's memory does not grow with the lake's number of batches.
    """

    lake: Lake
    batch_range: tuple[str, str] | None = None

    @cached_property
    def _batch_rows(self) -> list[dict[str, Any]]:
        between = {"batch_id": self.batch_range} if self.batch_range else None
        return self.lake.read("batches", BATCH_COLUMNS, between=between).to_pylist()

    @cached_property
    def collections(self) -> dict[str, CollectionInfo]:
        if self.batch_range is None:
            rows = self.lake.read("collections", COLLECTION_COLUMNS).to_pylist()
        else:
            wanted = sorted({row["collection_id"] for row in self._batch_rows if row["collection_id"] is not None})
            rows = []
            if wanted:
                rows = self.lake.read("collections", COLLECTION_COLUMNS, isin={"collection_id": wanted}).to_pylist()
        return {row["collection_id"]: _collection(row) for row in rows}

    @cached_property
    def batches(self) -> dict[str, BatchInfo]:
        found: dict[str, BatchInfo] = {}
        for row in self._batch_rows:
            collection = self.collections.get(row["collection_id"])
            if collection is None:
                continue
            found[row["batch_id"]] = BatchInfo(
                batch_id=row["batch_id"],
                name=row["name"] or "",
                collection=collection,
                start_date=row["start_date"].isoformat() if row["start_date"] else None,
                end_date=row["end_date"].isoformat() if row["end_date"] else None,
            )
        return found

    def batch(self, batch_id: str) -> BatchInfo | None:
        return self.batches.get(batch_id)

    def collection(self, collection_id: str) -> CollectionInfo | None:
        return self.collections.get(collection_id)

    def batches_of(self, collection_id: str) -> list[BatchInfo]:
        return sorted(
            (batch for batch in self.batches.values() if batch.collection_id == collection_id),
            key=lambda batch: batch.batch_id,
        )

    def resolve_batch_filter(self, batch_ids: Iterable[str]) -> list[str]:
        """The known batch ids among `batch_ids`, each once, in the order given."""
        return [batch_id for batch_id in dict.fromkeys(batch_ids) if batch_id in self.batches]

    def search_batches(
        self,
        *,
        channel: str,
        content_type: str = COURSE,
        identifiers: Sequence[str] | None = None,
        limit: int = SEARCH_LIMIT_MAX,
    ) -> list[str]:
        """Batch ids of the collections with this content type and channel (and ids, when given).

        `limit` counts collections, as the content search it replaces did; the choice among more matches is
        the first ones by collection id (stable, where the reference picked at random).
        """
        wanted = set(identifiers) if identifiers is not None else None
        matches = sorted(
            collection_id
            for collection_id, collection in self.collections.items()
            if collection.content_type == content_type
            and collection.channel == channel
            and (wanted is None or collection_id in wanted)
        )
        batch_ids: list[str] = []
        for collection_id in matches[: max(limit, 0)]:
            batch_ids.extend(batch.batch_id for batch in self.batches_of(collection_id))
        return batch_ids

    def resolve_search_filter(self, search_filter: Mapping[str, Any]) -> list[str]:
        """The batch ids of a datasetConfig.searchFilter: `{"request": {"filters": {...}, "limit": n}}`."""
        request = search_filter.get("request", search_filter)
        filters = request.get("filters") or {}
        identifiers = filters.get("identifier")
        if isinstance(identifiers, str):
            identifiers = [identifiers]
        limit = request.get("limit")
        return self.search_batches(
            channel=str(filters.get("channel", "")),
            content_type=str(filters.get("contentType", COURSE)),
            identifiers=identifiers,
            limit=SEARCH_LIMIT_MAX if limit is None else int(limit),
        )
