"""The indexer function (functions/indexer) on moto with the events of events/indexer: the look of the lake index's
state machine in S3, its index step, its record of a failed Spark run."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pytest
from exhaust import aws
from exhaust.lake import schemas
from exhaust.lake.store import Lake
from exhaust_devkit.lake.generator import generate
from exhaust_devkit.local.functions import invoke

from tests.conftest import load_event

MACHINE = "exhaust-dev-lake-index"


@pytest.fixture(scope="module")
def moto_server():
    """S3 and Step Functions on a moto server, as local mode has them (pyarrow's S3 client reads the lake there), and
    the index's state machine; one for the module, moto's state being the process's."""
    from exhaust.settings import get_settings
    from exhaust_devkit.local.atomic import serialize_dynamodb
    from exhaust_devkit.local.resources import create_resources
    from exhaust_devkit.local.runtime import free_port
    from moto.server import ThreadedMotoServer

    serialize_dynamodb()
    port = free_port("127.0.0.1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        aws.reset_clients()
        settings = create_resources()
        for name, value in settings.as_environ().items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        machine = aws.client("stepfunctions").create_state_machine(
            name=MACHINE,
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/exhaust-lake-index",
        )
        try:
            yield settings, machine["stateMachineArn"]
        finally:
            aws.reset_clients()
            get_settings.cache_clear()
            server.stop()


@pytest.fixture
def lake(moto_server):
    settings, machine = moto_server
    s3 = aws.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.lake_bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=settings.lake_bucket, Key=item["Key"])
    samples = generate("tiny", 7, settings.lake_uri)
    return {"uri": settings.lake_uri, "samples": samples, "machine": machine, "bucket": settings.lake_bucket}


def look_event(lake) -> dict:
    event = load_event("indexer/look")
    event["executionArn"] = lake["machine"].replace(":stateMachine:", ":execution:") + ":this-run"
    return event


def load_consents(uri: str) -> None:
    """A consent load, as the platform's loader makes one: the consents table rewritten, one event fewer."""
    lake = Lake.open(uri)
    events = lake.read("consents").to_pylist()
    lake.write("consents", pa.Table.from_pylist(events[:-1], schema=schemas.CONSENTS))


def test_a_look_at_a_fresh_lake_in_s3_reads_listings_and_chooses_no_engine(lake):
    found = invoke("indexer", look_event(lake))
    assert (found["stale"], found["busy"], found["engine"], found["enrolments"]) == (False, False, "none", 0)
    assert found["lake"] == lake["uri"]


def test_after_a_load_the_look_chooses_the_lambda_and_the_index_step_makes_it_fresh(lake):
    load_consents(lake["uri"])
    found = invoke("indexer", look_event(lake))
    assert (found["stale"], found["engine"]) == (True, "lambda")
    assert found["enrolments"] == Lake.open(lake["uri"]).read("enrolments").num_rows
    assert set(found["reasons"]) == {"userinfo_lines"}

    indexed = invoke("indexer", load_event("indexer/index"))

    assert indexed["engine"] == "lambda"
    assert set(indexed["rows"]) == {"batch_users", "userinfo_lines", "response_lines", "course_directory"}
    assert invoke("indexer", look_event(lake))["stale"] is False
    listed = aws.client("s3").list_objects_v2(Bucket=lake["bucket"], Prefix="lake/batch_users/_runs/")
    runs = {item["Key"].split("/")[3] for item in listed["Contents"] if not item["Key"].endswith("/")}
    pointer = Lake.open(lake["uri"]).current_files("batch_users")
    assert pointer is not None
    assert runs == {pointer["run"], *(entry["run"] for entry in pointer["retired"])}  # the published run, kept ones


def test_a_look_while_another_execution_runs_does_nothing(lake):
    load_consents(lake["uri"])
    stepfunctions = aws.client("stepfunctions")
    other = stepfunctions.start_execution(stateMachineArn=lake["machine"], name="other-run", input="{}")
    try:
        found = invoke("indexer", look_event(lake))
    finally:
        stepfunctions.stop_execution(executionArn=other["executionArn"])

    assert (found["stale"], found["busy"], found["engine"]) == (False, True, "none")


def test_a_failed_spark_run_is_recorded_with_its_error_and_counted(lake, caplog, capsys):
    caplog.set_level(logging.INFO)

    summary = invoke("indexer", load_event("indexer/record_failed"))

    assert summary["outcome"] == "failed"
    assert summary["engine"] == "spark"
    assert summary["enrolments"] == 2_400_000
    assert summary["error"] == "States.TaskFailed"
    assert "ExitCode: 2" in summary["cause"]
    assert summary["seconds"] > 0
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = sorted(name for document in metrics for name in document if name.startswith("LakeIndex"))
    assert names == ["LakeIndexFailures", "LakeIndexRuns"]
    assert all(document["engine"] == "spark" for document in metrics)


def test_an_unknown_step_is_refused_by_name(lake):
    with pytest.raises(ValueError, match="the indexer has no step 'rebuild': look, index or record"):
        invoke("indexer", {"step": "rebuild"})


def test_local_modes_schedule_runs_the_state_machine_until_the_lake_is_fresh(lake, moto_server):
    import threading
    import time

    from exhaust.lake import indexer
    from exhaust_devkit.local.indexer import LocalIndexSchedule

    settings, _ = moto_server
    load_consents(lake["uri"])
    stopping = threading.Event()
    schedule = LocalIndexSchedule(settings, stopping, look_every_seconds=0.05)
    thread = threading.Thread(target=schedule.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while indexer.look(lake["uri"], others_running=lambda _: False)["stale"] and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stopping.set()
        thread.join(timeout=30)
    assert indexer.look(lake["uri"], others_running=lambda _: False)["stale"] is False
    assert not thread.is_alive()
