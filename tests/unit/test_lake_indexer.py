"""The scheduled indexer rewrites the derived tables only when a load made one stale (exhaust.lake.indexer)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from exhaust import resources
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake import indexer, schemas
from exhaust.lake.materialized import DERIVED_TABLES, USERINFO_LINES
from exhaust.lake.store import Lake

from tests.unit.handmade_lake import CHANNEL, CONSENTS, at, consent, write_handmade_lake
from tests.unit.test_builders_golden import DAY, PASSWORD, build


def derived_files(root: str) -> dict[str, list[tuple[str, int, int]]]:
    lake = Lake.open(root)
    return {table: lake.listing(table) for table in DERIVED_TABLES}


def test_the_indexer_may_write_exactly_the_tables_the_index_writes() -> None:
    assert resources.DERIVED_LAKE_TABLES == DERIVED_TABLES


def test_a_fresh_lake_is_left_alone_and_a_consent_load_is_indexed_at_the_next_look(tmp_path: Path) -> None:
    root = str(write_handmade_lake(tmp_path / "lake").root)
    before = derived_files(root)
    looked = indexer.run(root)
    assert (looked["lake"], looked["reindexed"], looked["stale"]) == (root, False, {})
    assert derived_files(root) == before  # nothing rewritten

    revoked = [*CONSENTS, consent("u1", CHANNEL, "REVOKED", at("2026-10-30"))]
    Lake.open(root).write("consents", pa.Table.from_pylist(revoked, schema=schemas.CONSENTS))
    looked = indexer.run(root)
    assert looked["reindexed"] is True
    assert list(looked["stale"]) == [USERINFO_LINES]
    assert "other files of consents" in looked["stale"][USERINFO_LINES]
    assert indexer.run(root)["reindexed"] is False

    # The revocation is in the stored lines now: the build takes them (no live fallback) and leaves u1 out.
    summary = build_batch_zip(
        BatchBuild("userinfo-exhaust", "B2", CHANNEL, PASSWORD, Lake.open(root), DAY), tmp_path / "u.zip"
    )
    assert summary.rows_from == "index"
    _, rows = build(Lake.open(root), tmp_path, "userinfo-exhaust", "B2")
    assert [row[4] for row in rows[1:]] == ["u5"]
