"""The indexer: the steps of the lake index's state machine that run in Lambda (exhaust.pipeline.index_definition).

The lake is loaded by the platform, outside this service, and every load of collections, batches, enrolments,
users, attempts or consents makes some derived table stale: progress-exhaust then refuses to build
(LakeNotIndexed) and userinfo- and response-exhaust compute their rows at each build. The state machine starts
every few minutes and:

- `look`: lists the derived tables' sources (listings only while all is fresh); when something is stale, counts
  the enrolments from the enrolments table's footers, which decides the engine. A look while another run of the
  state machine is under way answers fresh, so runs never overlap (a Spark index may outlast the schedule);
- `index`: the single-process index, for a lake small enough for a new account's 3,008 MB Lambda (the larger ones
  go to the Spark job on EMR Serverless, exhaust.lake.spark_index);
- `record`: the run's outcome, as a log line and the LakeIndexRuns / LakeIndexFailures metrics (dimension engine).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from exhaust import aws
from exhaust.observability import METRICS_NAMESPACE, SERVICE, logger
from exhaust.settings import get_settings

LAKE_INDEX_RUNS = "LakeIndexRuns"
LAKE_INDEX_FAILURES = "LakeIndexFailures"
# What a look answers as `engine`: what indexes the lake, or none (all fresh, or another run under way).
LAMBDA_ENGINE, SPARK_ENGINE, NO_ENGINE = "lambda", "spark", "none"
# The single-process index, written in parts, holds the users table and one part: it peaked at 1,002 MB on a
# platform-shaped lake of 1 M enrolments (bench/index_results.json, `make bench-index`), in 91 CPU seconds. Counted
# here as 300 MB for the runtime and pyarrow plus 1,100 bytes per enrolment (the measured slope with a tenth more),
# 1 M enrolments need about 1.4 GB and a few minutes, inside a new account's 3,008 MB and Lambda's 15 minutes.
# Larger lakes go to the Spark job, whose memory per executor does not grow with the lake.
INDEX_PEAK_BYTES_PER_ENROLMENT = 1_100
INDEX_BASE_MEMORY_MB = 300
DEFAULT_SPARK_ABOVE_ENROLMENTS = 1_000_000

# Whether another execution of this state machine than the given one is running.
OthersRunning = Callable[[str], bool]


def memory_mb_needed(enrolments: int) -> int:
    """About the peak memory of the single-process index of a lake of that many enrolments."""
    return INDEX_BASE_MEMORY_MB + enrolments * INDEX_PEAK_BYTES_PER_ENROLMENT // 2**20


def others_running_in_step_functions(execution_arn: str) -> bool:
    """Another RUNNING execution of the state machine `execution_arn` belongs to (Step Functions ListExecutions)."""
    if not execution_arn:
        return False
    machine = execution_arn.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]
    running = aws.client("stepfunctions").list_executions(
        stateMachineArn=machine, statusFilter="RUNNING", maxResults=10
    )["executions"]
    return any(execution["executionArn"] != execution_arn for execution in running)


def look(
    lake_uri: str,
    spark_above_enrolments: int = DEFAULT_SPARK_ABOVE_ENROLMENTS,
    execution_arn: str = "",
    others_running: OthersRunning | None = None,
) -> dict[str, Any]:
    """Whether the lake needs an index, why, how many enrolments it holds (0 while fresh: nothing read) and so
    which engine indexes it: `spark` above `spark_above_enrolments`, else `lambda`; `none` when nothing is to do."""
    from exhaust.lake.materialized import stale_derived_tables
    from exhaust.lake.store import Lake

    if (others_running or others_running_in_step_functions)(execution_arn):
        logger.info("lake index under way in another run", extra={"lake": lake_uri})
        return {"lake": lake_uri, "stale": False, "busy": True, "reasons": {}, "enrolments": 0, "engine": NO_ENGINE}
    lake = Lake.open(lake_uri)
    reasons = stale_derived_tables(lake)
    enrolments = sum(metadata.num_rows for _, metadata in lake.files("enrolments")) if reasons else 0
    engine = NO_ENGINE if not reasons else SPARK_ENGINE if enrolments > spark_above_enrolments else LAMBDA_ENGINE
    found = {"lake": lake_uri, "stale": bool(reasons), "busy": False, "reasons": reasons, "enrolments": enrolments}
    return {**found, "engine": engine}


def index(lake_uri: str) -> dict[str, Any]:
    """The single-process index of every derived table; answers their row counts and the seconds it took."""
    from exhaust.lake.materialized import index_lake
    from exhaust.lake.store import Lake

    started = time.monotonic()
    rows = index_lake(Lake.open(lake_uri))
    return {"engine": LAMBDA_ENGINE, "rows": rows, "seconds": round(time.monotonic() - started, 1)}


def record(outcome: str, run: dict[str, Any], started_at: str = "") -> dict[str, Any]:
    """Log and count a finished run: `indexed` (by the engine its look chose) or `failed` (with Step Functions'
    Error and Cause). Answers what it logged."""
    found = run.get("look", {}).get("result", {})
    engine = found.get("engine", NO_ENGINE)  # none: the look itself failed
    summary: dict[str, Any] = {
        "outcome": outcome,
        "engine": engine,
        "lake": found.get("lake", ""),
        "enrolments": found.get("enrolments"),
        "stale": found.get("reasons", {}),
    }
    if engine == SPARK_ENGINE and "JobRunId" in run.get("index", {}):
        summary["jobRunId"] = run["index"]["JobRunId"]
    if started_at:
        started = dt.datetime.fromisoformat(started_at.replace("Z", "+00:00"))
        summary["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    if outcome == "failed":
        error = run.get("error", {})
        summary.update(error=error.get("Error", ""), cause=str(error.get("Cause", ""))[:1000])
        logger.error("lake index failed", extra=summary)
    else:
        logger.info("lake index written", extra=summary)
    for name in (LAKE_INDEX_RUNS, *([LAKE_INDEX_FAILURES] if outcome == "failed" else [])):
        with single_metric(
            name=name, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE, default_dimensions={}
        ) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            metric.add_dimension(name="engine", value=engine)
    return summary


def handle(
    event: dict[str, Any], others_running: OthersRunning | None = None, lake_uri: str | None = None
) -> dict[str, Any]:
    """The indexer function: one step of the index state machine, chosen by the event's `step`, on the lake of the
    settings (or `lake_uri`)."""
    step = event.get("step")
    lake_uri = lake_uri or get_settings().lake_uri
    if step == "look":
        threshold = int(event.get("sparkAboveEnrolments", DEFAULT_SPARK_ABOVE_ENROLMENTS))
        return look(lake_uri, threshold, str(event.get("executionArn", "")), others_running)
    if step == "index":
        return index(lake_uri)
    if step == "record":
        return record(str(event.get("outcome", "")), dict(event.get("run", {})), str(event.get("startedAt", "")))
    raise ValueError(f"the indexer has no step {step!r}: look, index or record")


def run(lake_uri: str | None = None) -> dict[str, Any]:
    """Index the lake in this process if any derived table is stale; answer what was stale and how long it took."""
    uri = lake_uri or get_settings().lake_uri
    started = time.monotonic()
    found = look(uri, others_running=lambda _: False)
    if found["stale"]:
        index(uri)
    seconds = round(time.monotonic() - started, 1)
    if found["stale"]:
        logger.info("lake re-indexed", extra={"lake": uri, "stale": found["reasons"], "seconds": seconds})
    else:
        logger.info("lake index fresh", extra={"lake": uri, "seconds": seconds})
    return {"lake": uri, "reindexed": found["stale"], "stale": found["reasons"], "seconds": seconds}
