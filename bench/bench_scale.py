"""Scale simulation: requests of 1,000 and 10,000 batches through the real workflow document (docs/scaling.md).

    make bench-scale    # or: .venv/bin/python bench/bench_scale.py [--batches 1000 10000] [--batch-seconds 0.1]

The local runner executes exhaust.pipeline.definition's document with the real steps on moto (DynamoDB, S3, KMS,
SQS in-process, DynamoDB serialized as in local mode); only the zip builder is a stub that sleeps the modelled
batch time, scaled down (`--batch-seconds`), and answers a file of `--rows-per-batch` rows. For each size it
prints the measured wall time against the model ceil(batches / MaxConcurrency) x batch time + fixed overheads
(Plan and Finalize, measured), and every AWS call the steps made (botocore after-call hooks), and turns them into
the cost per 1M rows at AWS's list prices with the builder at its real size and modelled batch time. Writes
bench/scale_results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from exhaust.aes_zip import BuiltFile
from exhaust.builders import BatchBuild

REPO_ROOT = Path(__file__).resolve().parent.parent

# List prices, us-east-1, as published on each page (read 2026-12-01; verify before budgeting):
# https://aws.amazon.com/lambda/pricing/ : arm64 $0.0000133334 per GB-second, $0.20 per 1M requests.
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1_000_000
# https://aws.amazon.com/step-functions/pricing/ : Standard workflows $0.025 per 1,000 state transitions; a
# Distributed Map's child executions (Standard) are billed the same way.
STATE_TRANSITION = 0.025 / 1000
# https://aws.amazon.com/s3/pricing/ : S3 Standard PUT, COPY, POST, LIST $0.005 per 1,000; GET $0.0004 per 1,000.
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
# https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units, $0.125 per million
# read request units (a transactional write costs 2 WRU per KB, a strongly consistent read 1 RRU per 4 KB).
DYNAMODB_WRU = 0.625 / 1_000_000
DYNAMODB_RRU = 0.125 / 1_000_000
# https://aws.amazon.com/kms/pricing/ : $0.03 per 10,000 requests.
KMS_REQUEST = 0.03 / 10_000

BUILDER_MEMORY_GB = 3008 / 1024
SMALL_FUNCTION_MEMORY_GB = 512 / 1024
# What the stubbed builder does not do here, per batch, as the real one does (docs/benchmarks.md: about 10 lake
# reads per small batch; a multipart upload is 3 PUT-class requests for a zip under one 8 MB part).
LAKE_GETS_PER_BATCH = 10
UPLOAD_PUTS_PER_BATCH = 3
# The request item is written with 4 GSIs projecting ALL: each counter update also writes each index (1 WRU per KB).
REQUEST_ITEM_KB = 3
REQUEST_INDEXES = 4


class SleepingBuilder:
    def __init__(self, seconds: float, rows: int) -> None:
        self.seconds = seconds
        self.rows = rows

    def __call__(self, build: BatchBuild, bucket: str, key_prefix: str, *, compresslevel: int) -> BuiltFile:
        batch_id, day = build.batch_id, build.date
        time.sleep(self.seconds)
        name = f"{batch_id}_progress_{day:%Y%m%d}.zip"
        return BuiltFile(name=name, key=f"{key_prefix}{name}", rows=self.rows, bytes=self.rows * 60, sha256="0" * 64)


class CallCounter:
    """Every AWS call of the steps, by service.Operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, event_name: str, **details: Any) -> None:
        _, service, operation = event_name.split(".")
        with self.lock:
            self.calls[f"{service}.{operation}"] += 1


def simulate(batches: int, batch_seconds: float, rows: int, concurrency: int) -> dict[str, Any]:
    from exhaust import aws
    from exhaust.datasets.registry import BUILT_IN, DatasetLimits, DatasetRegistry
    from exhaust.lake.catalog import BatchInfo, CollectionInfo
    from exhaust.pipeline.definition import workflow_definition
    from exhaust.pipeline.dispatch import Dispatcher
    from exhaust.pipeline.steps import Pipeline
    from exhaust.requests.adapters import KeyVault
    from exhaust.requests.models import ExhaustRequest
    from exhaust.requests.store import RequestStore
    from exhaust.settings import get_settings
    from exhaust_devkit.pipeline.runner import LocalRunner, LocalWorkflow, step_functions

    def many_batches(lake: str, request: ExhaustRequest) -> list[BatchInfo]:
        collection = CollectionInfo("do_bench", "Bench", request.channel, "Course", "Live", False, 1)
        return [BatchInfo(f"batch-{index:05d}", f"Batch {index}", collection) for index in range(batches)]

    settings = get_settings()
    progress = next(d for d in BUILT_IN if d.datasetId == "progress-exhaust")
    DatasetRegistry().put(progress.model_copy(update={"limits": DatasetLimits(maxBatchesPerRequest=10_000)}))
    pipeline = Pipeline(settings=settings, build_file=SleepingBuilder(batch_seconds, rows), find_batches=many_batches)
    steps = step_functions(pipeline)
    timings: dict[str, float] = {}

    def timed(name: str, function: Any) -> Any:
        def call(event: dict[str, Any]) -> Any:
            started = time.monotonic()
            try:
                return function(event)
            finally:
                if name != "builder":
                    timings[name] = timings.get(name, 0.0) + time.monotonic() - started

        return call

    functions = {placeholder: timed(name, steps[placeholder]) for placeholder, name in _names(steps)}
    runner = LocalRunner(workflow_definition(concurrency), functions, retry_interval_scale=0)
    dispatcher = Dispatcher(workflow=LocalWorkflow(runner, synchronous=True), settings=settings)
    counter = CallCounter()
    for client in (aws.resource("dynamodb").meta.client, aws.client("s3"), aws.client("kms"), aws.client("sqs")):
        client.meta.events.register("after-call", counter)
    now = int(time.time() * 1000)
    request_id = f"BENCH{batches}T{now}"
    RequestStore().create(
        ExhaustRequest(
            requestId=request_id,
            channel="bench-channel",
            tag="bench",
            dataset="progress-exhaust",
            datasetConfig={"batchFilter": ["all"]},
            requestedBy="bench",
            submittedAt=now,
            updatedAt=now,
            encryptedKey=KeyVault().encrypt("bench-password", request_id),
        )
    )
    started = time.monotonic()
    dispatcher.dispatch_message(json.dumps({"requestId": request_id, "attempt": 0}))
    wall = time.monotonic() - started
    done = RequestStore().get(request_id)
    if done is None or done.status.value != "SUCCESS":
        raise RuntimeError(f"the simulated request did not succeed: {done and done.statusMessage}")
    fixed = timings.get("plan", 0.0) + timings.get("finalize", 0.0)
    model = math.ceil(batches / concurrency) * batch_seconds + fixed
    return {
        "batches": batches,
        "maxConcurrency": concurrency,
        "batchSeconds": batch_seconds,
        "wallSeconds": round(wall, 2),
        "modelSeconds": round(model, 2),
        "fixedSeconds": round(fixed, 2),
        # What the runner adds per batch beyond the model (moto's serialized DynamoDB calls, see docs/scaling.md).
        "overheadPerBatchMs": round(max(0.0, wall - model) / batches * 1000, 1),
        "calls": dict(sorted(counter.calls.items())),
        "filesTotal": done.filesTotal,
    }


def _names(steps: dict[str, Any]) -> list[tuple[str, str]]:
    from exhaust.pipeline import definition as wf

    names = {
        wf.PLAN_FUNCTION: "plan",
        wf.BUILDER_FUNCTION: "builder",
        wf.FINALIZE_FUNCTION: "finalize",
        wf.MARK_FAILED_FUNCTION: "mark_failed",
    }
    return [(placeholder, names[placeholder]) for placeholder in steps]


def cost_per_million_rows(result: dict[str, Any], modelled_batch_seconds: float, rows: int) -> dict[str, float]:
    """USD per 1M rows of a request like `result`'s, at list prices, with the builder's modelled time per batch."""
    batches = result["batches"]
    calls = Counter(result["calls"])
    lambda_cost = batches * (BUILDER_MEMORY_GB * modelled_batch_seconds * LAMBDA_ARM_GB_SECOND + LAMBDA_REQUEST)
    lambda_cost += 3 * (SMALL_FUNCTION_MEMORY_GB * 1.0 * LAMBDA_ARM_GB_SECOND + LAMBDA_REQUEST)  # plan-side steps
    # Parent: Plan, BuildBatches, Finalize (3); each child execution: its start and BuildBatch (2).
    transitions = 3 + 2 * batches
    s3_puts = sum(n for name, n in calls.items() if name.split(".")[1] in ("PutObject", "CreateMultipartUpload"))
    s3_gets = sum(n for name, n in calls.items() if name.split(".")[1] == "GetObject")
    s3_puts += UPLOAD_PUTS_PER_BATCH * batches
    s3_gets += LAKE_GETS_PER_BATCH * batches
    transactions = calls["dynamodb.TransactWriteItems"]
    writes = calls["dynamodb.PutItem"] + calls["dynamodb.UpdateItem"]
    wru = transactions * 2 * (1 + REQUEST_ITEM_KB) + transactions * REQUEST_INDEXES * REQUEST_ITEM_KB
    wru += writes * REQUEST_ITEM_KB * (1 + REQUEST_INDEXES)
    rru = calls["dynamodb.GetItem"] + calls["dynamodb.Query"]
    kms = calls["kms.Decrypt"] + calls["kms.Encrypt"]
    parts = {
        "lambda": lambda_cost,
        "stepFunctions": transitions * STATE_TRANSITION,
        "s3": s3_puts * S3_PUT + s3_gets * S3_GET,
        "dynamodb": wru * DYNAMODB_WRU + rru * DYNAMODB_RRU,
        "kms": kms * KMS_REQUEST,
    }
    scale = 1_000_000 / (batches * rows)
    per_million = {name: round(value * scale, 6) for name, value in parts.items()}
    per_million["total"] = round(sum(per_million.values()), 6)
    return per_million


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--batch-seconds", type=float, default=0.1, help="the stub's sleep per batch (scaled down)")
    parser.add_argument("--modelled-batch-seconds", type=float, default=10.0, help="a batch's time in AWS")
    parser.add_argument("--rows-per-batch", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    arguments = parser.parse_args()

    from moto import mock_aws

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # the per-batch EMF lines would flood the output
    results = []
    for batches in arguments.batches:
        with mock_aws():
            from exhaust import aws
            from exhaust.settings import get_settings
            from exhaust_devkit.local.atomic import serialize_dynamodb
            from exhaust_devkit.local.resources import create_resources

            serialize_dynamodb()
            aws.reset_clients()
            settings = create_resources()
            os.environ.update(settings.as_environ())
            get_settings.cache_clear()
            result = simulate(batches, arguments.batch_seconds, arguments.rows_per_batch, arguments.concurrency)
            result["costPerMillionRowsUsd"] = cost_per_million_rows(
                result, arguments.modelled_batch_seconds, arguments.rows_per_batch
            )
            result["modelledAws"] = {
                "batchSeconds": arguments.modelled_batch_seconds,
                "rowsPerBatch": arguments.rows_per_batch,
                "mapSeconds": math.ceil(batches / arguments.concurrency) * arguments.modelled_batch_seconds,
            }
            results.append(result)
            print(json.dumps(result, indent=2), flush=True)
    (REPO_ROOT / "bench" / "scale_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
