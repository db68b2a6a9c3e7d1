"""End to end with a tiny threshold, on the local runner and the lake index's document: a load makes the lake
stale, the state machine sends it to the Spark job (pyspark in local mode), and a build uses what it wrote."""

from __future__ import annotations

import logging

import pytest
from exhaust.builders import BatchBuild, build_batch_zip
from exhaust.lake.materialized import USERINFO_LINES
from exhaust.lake.store import Lake
from exhaust_devkit.local.indexer import index_runner, run_index

from tests.integration import test_spark_index
from tests.integration.test_lake_index_workflow import Recorder, revoke_u1
from tests.unit.handmade_lake import CHANNEL, write_handmade_lake
from tests.unit.test_builders_golden import DAY, PASSWORD, build

pytestmark = pytest.mark.xdist_group("spark")
# The Spark tests' one session-scoped SparkSession (tests/integration/test_spark_index.py), not a second one.
spark = test_spark_index.spark


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Recorder:
    caplog.set_level(logging.INFO)
    return Recorder(caplog)


def test_load_stale_spark_index_then_a_build_uses_it(tmp_path, records, spark):
    """End to end with a tiny threshold: a consent load makes the lake stale, the state machine sends it to the
    Spark job (pyspark in local mode), and the next userinfo build streams the stored lines."""
    from exhaust.lake.spark_index import index_lake_with_spark

    root = tmp_path / "lake"
    write_handmade_lake(root)
    revoke_u1(root)
    ran: list[str] = []

    def spark_job(lake_uri: str) -> dict[str, int]:
        ran.append(lake_uri)
        return index_lake_with_spark(spark, lake_uri)

    output = run_index(index_runner(str(root), 1, spark_job=spark_job))

    assert ran == [str(root)]
    assert output["look"]["result"]["engine"] == "spark"
    assert output["index"]["State"] == "SUCCESS"
    assert output["index"]["rows"][USERINFO_LINES] == 2  # 4 before the revocation: u1's lines are gone
    assert records.outcomes() == [("indexed", "spark")]
    summary = build_batch_zip(
        BatchBuild("userinfo-exhaust", "B2", CHANNEL, PASSWORD, Lake.open(str(root)), DAY), tmp_path / "u.zip"
    )
    assert summary.rows_from == "index"
    _, rows = build(Lake.open(str(root)), tmp_path, "userinfo-exhaust", "B2")
    assert [row[4] for row in rows[1:]] == ["u5"]
    assert run_index(index_runner(str(root), 1, spark_job=spark_job))["look"]["result"]["engine"] == "none"
    assert len(ran) == 1
