"""The lake index's state machine, the document AWS runs, on the local runner: a fresh lake is left alone, a stale
small one is indexed by the Lambda step, and a failed run ends in the Fail state with the previous derived tables in
place (the Spark path end to end: test_lake_index_spark.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from exhaust.lake import indexer, schemas
from exhaust.lake.materialized import DERIVED_TABLES, USERINFO_LINES
from exhaust.lake.store import Lake
from exhaust.pipeline import index_definition as index
from exhaust_devkit.local.indexer import LOCAL_SPARK_APPLICATION_ID, SPARK_MISSING, index_runner, run_index
from exhaust_devkit.pipeline.runner import StatesError

from tests.unit.handmade_lake import CHANNEL, CONSENTS, at, consent, write_handmade_lake

ENROLMENTS_OF_THE_HANDMADE_LAKE = 9


class Recorder:
    """The runs' records as the indexer logs them."""

    def __init__(self, caplog: pytest.LogCaptureFixture):
        self.caplog = caplog

    def outcomes(self) -> list[tuple[str, str]]:
        return [
            (getattr(r, "outcome", ""), getattr(r, "engine", ""))
            for r in self.caplog.records
            if r.getMessage() in ("lake index written", "lake index failed")
        ]


def runner_for(root: Path, threshold: int, spark_job: Any = None) -> Any:
    return index_runner(str(root), threshold, spark_job=spark_job or _no_spark)


def _no_spark(lake_uri: str) -> dict[str, int]:
    raise AssertionError("the Spark job ran for a lake under the threshold")


def derived_files(root: Path) -> dict[str, list[tuple[str, int, int]]]:
    lake = Lake.open(str(root))
    return {table: lake.listing(table) for table in DERIVED_TABLES}


def revoke_u1(root: Path) -> None:
    revoked = [*CONSENTS, consent("u1", CHANNEL, "REVOKED", at("2026-10-30"))]
    Lake.open(str(root)).write("consents", pa.Table.from_pylist(revoked, schema=schemas.CONSENTS))


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Recorder:
    caplog.set_level(logging.INFO)
    return Recorder(caplog)


def test_a_fresh_lake_is_left_alone_after_listings(tmp_path, records):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    before = derived_files(root)

    output = run_index(runner_for(root, threshold=1_000))

    assert output["look"]["result"] == {
        "lake": str(root),
        "stale": False,
        "busy": False,
        "reasons": {},
        "enrolments": 0,
        "engine": "none",
    }
    assert "index" not in output
    assert derived_files(root) == before
    assert records.outcomes() == []  # nothing to record: the run ended at Fresh


def test_a_stale_small_lake_is_indexed_by_the_lambda_step_and_recorded(tmp_path, records):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    revoke_u1(root)

    output = run_index(runner_for(root, threshold=1_000))

    look = output["look"]["result"]
    assert (look["stale"], look["engine"], look["enrolments"]) == (True, "lambda", ENROLMENTS_OF_THE_HANDMADE_LAKE)
    assert list(look["reasons"]) == [USERINFO_LINES]
    assert output["index"]["result"]["engine"] == "lambda"
    assert records.outcomes() == [("indexed", "lambda")]
    assert indexer.look(str(root), others_running=lambda _: False)["stale"] is False


def test_a_look_while_another_run_is_under_way_does_nothing(tmp_path):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    revoke_u1(root)

    found = indexer.look(str(root), 10, "arn:aws:states:r:1:execution:m:e1", others_running=lambda _: True)

    assert (found["stale"], found["busy"], found["engine"]) == (False, True, "none")


def test_a_failed_spark_job_fails_the_run_records_it_and_keeps_the_previous_tables(tmp_path, records):
    root = tmp_path / "lake"
    write_handmade_lake(root)
    revoke_u1(root)
    before = derived_files(root)

    def failing(lake_uri: str) -> dict[str, int]:
        raise RuntimeError(SPARK_MISSING)

    with pytest.raises(StatesError) as failed:
        run_index(runner_for(root, threshold=0, spark_job=failing))

    assert failed.value.error == index.INDEX_FAILED_ERROR
    assert records.outcomes() == [("failed", "spark")]
    (failure,) = [r for r in records.caplog.records if r.getMessage() == "lake index failed"]
    assert failure.error == "States.TaskFailed"
    assert "pyspark is not installed" in failure.cause
    assert LOCAL_SPARK_APPLICATION_ID in failure.cause
    assert derived_files(root) == before
