"""Local mode's lake index: the same state machine document as in AWS (exhaust.pipeline.index_definition), run by
the local runner every minute, its Lambda steps bound to the indexer's functions and its Spark task to the Spark
job with pyspark in local mode (the `spark` extra).

The threshold is the stack's setting under the same name (`EXHAUST_SPARK_ABOVE_ENROLMENTS`, default 1,000,000): a
lake above it is indexed by Spark here too. Without pyspark installed that run fails with the command that
installs it, and is recorded and logged like any failed run; the previous derived tables stay in place.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from exhaust.lake import indexer
from exhaust.observability import logger
from exhaust.pipeline import index_definition as index
from exhaust.settings import RuntimeSettings

from exhaust_devkit.local.state import LocalSetupError
from exhaust_devkit.pipeline.runner import LocalRunner, StatesError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL_INDEX_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:exhaust-local-lake-index"
LOCAL_SPARK_APPLICATION_ID = "local-spark"
LOCAL_SPARK_JOB_ROLE = "arn:aws:iam::000000000000:role/exhaust-local-spark-job"
SPARK_ABOVE_ENROLMENTS = "EXHAUST_SPARK_ABOVE_ENROLMENTS"
# Local lakes are loaded by hand: a minute between looks (AWS: 15 minutes) keeps the wait after a load short.
LOOK_EVERY_SECONDS = 60.0
SPARK_MISSING = "pyspark is not installed: `pip install -e '.[spark]'` (Java 17 too) to index lakes this large locally"

# The lake's URI -> the Spark job's row counts (raises when the job fails).
SparkJob = Callable[[str], Mapping[str, Any]]


def spark_above_enrolments(environ: Mapping[str, str] | None = None) -> int:
    """The threshold of this shell's environment; an invalid one stops local mode with the variable named."""
    value = (os.environ if environ is None else environ).get(SPARK_ABOVE_ENROLMENTS)
    if value is None:
        return indexer.DEFAULT_SPARK_ABOVE_ENROLMENTS
    if not value.isdigit():
        raise LocalSetupError(f"{SPARK_ABOVE_ENROLMENTS}: must be a whole number of enrolments, got {value!r}")
    return int(value)


_session: list[SparkSession] = []


def spark_in_local_mode(lake_uri: str) -> Mapping[str, Any]:
    """The Spark job on this machine, in one Spark session kept for the process's later runs."""
    try:
        from exhaust.lake.spark_index import index_lake_with_spark, local_session
    except ImportError as missing:
        raise RuntimeError(SPARK_MISSING) from missing
    if not _session:
        _session.append(local_session())
    return index_lake_with_spark(_session[0], lake_uri)


def start_job_run_sync(job: SparkJob) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """emr-serverless:startJobRun.sync on this machine: runs the job of the task's SparkSubmit arguments and waits,
    answering the job run as the integration does; a failed job is States.TaskFailed with its error as the Cause."""

    def run(parameters: dict[str, Any]) -> dict[str, Any]:
        arguments = list(parameters["JobDriver"]["SparkSubmit"].get("EntryPointArguments", []))
        lake_uri = arguments[arguments.index("--lake") + 1]
        job_run_id = uuid.uuid4().hex[:16]
        found = {"ApplicationId": parameters["ApplicationId"], "JobRunId": job_run_id, "Name": parameters.get("Name")}
        try:
            rows = job(lake_uri)
        except Exception as failure:
            cause = {**found, "State": "FAILED", "StateDetails": f"{type(failure).__name__}: {failure}"}
            raise StatesError("States.TaskFailed", json.dumps(cause)) from failure
        return {**found, "State": "SUCCESS", "rows": dict(rows)}

    return run


def index_runner(
    lake_uri: str, spark_above: int | None = None, spark_job: SparkJob = spark_in_local_mode
) -> LocalRunner:
    """The index state machine on the local runner, for the lake at `lake_uri`."""
    threshold = spark_above_enrolments() if spark_above is None else spark_above

    def indexer_function(payload: dict[str, Any]) -> Any:
        # Runs are one at a time here (one thread): a look never finds another.
        return indexer.handle(payload, others_running=lambda _: False, lake_uri=lake_uri)

    return LocalRunner(
        definition=index.index_definition(threshold),
        functions={index.INDEXER_FUNCTION: indexer_function},
        substitutions={
            index.SPARK_APPLICATION: LOCAL_SPARK_APPLICATION_ID,
            index.SPARK_JOB_ROLE: LOCAL_SPARK_JOB_ROLE,
            index.LAKE_URI: lake_uri,
            index.REGION: os.environ.get("AWS_REGION", "us-east-1"),
        },
        services={index.EMR_SERVERLESS_START_JOB_RUN_SYNC: start_job_run_sync(spark_job)},
    )


def run_index(runner: LocalRunner) -> dict[str, Any]:
    """One execution of the index state machine; answers its output (a failed run raises its StatesError)."""
    name = uuid.uuid4().hex
    return dict(runner.run(f"{LOCAL_INDEX_STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{name}", {}))


@dataclass
class LocalIndexSchedule:
    """Local mode's stand-in for the index schedule: a run of the state machine every LOOK_EVERY_SECONDS."""

    settings: RuntimeSettings
    stopping: threading.Event = field(default_factory=threading.Event)
    look_every_seconds: float = LOOK_EVERY_SECONDS

    def __post_init__(self) -> None:
        # Made at start, so that an invalid threshold stops local mode instead of this thread.
        self.runner = index_runner(self.settings.lake_uri, spark_above_enrolments())

    def run(self) -> None:
        runner = self.runner
        while not self.stopping.wait(self.look_every_seconds):
            try:
                run_index(runner)
            except StatesError as failure:
                logger.warning("local lake index failed", extra={"error": failure.error, "cause": failure.cause[:500]})
