"""Benchmark: the largest legacy and export answers the APIs accept, against API Gateway's 29 s.

    make bench-answers    # or: .venv/bin/python bench/bench_answers.py [--seed 1] [--only legacy|export]

1. Generates the answers lake once into .build/bench-lake-answers-seed{N}/ (reused while it exists):
   100,000 partner events and 100,000 observations a day over 60 days (6,000,000 of each).
2. In moto (in-process S3 and DynamoDB, as the integration tests), with the lake as a directory, each case runs in a
   fresh process and calls the service the handler calls (LegacyService.download, ExportService.export): the
   largest request the caps accept (legacy: 31 days, 3.1 M events; export: all 6 M rows as CSV and JSON, 3.9 M as
   XML), then
   the same request with the cap lowered to half of it, which must be refused (422) from the footers in well
   under a second. With --lake-in-s3 the lake is in a moto server over HTTP instead, as in local mode.
3. Prints and writes bench/answers_results.json: status, seconds, cpu_seconds, rows, zip MB, the 1-minute load.
Target: every accepted case answers within API_FUNCTION_TIMEOUT_SECONDS (24 s: the API functions stop there, before
API Gateway's 29 s), refusals within 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LAKE_TODAY = dt.date(2026, 11, 1)
LAKE_DAYS = 60
PARTNER_EVENTS_PER_DAY = 100_000
OBSERVATIONS_PER_DAY = 100_000
RESULTS = REPO_ROOT / "bench" / "answers_results.json"
RESULTS_S3 = REPO_ROOT / "bench" / "answers_results_s3.json"


def lake_path(seed: int) -> Path:
    return REPO_ROOT / ".build" / f"bench-lake-answers-seed{seed}"


def ensure_lake(seed: int) -> Path:
    path = lake_path(seed)
    if not (path / "observations").exists():
        command = [sys.executable, "-m", "exhaust_devkit.cli", "lake", "generate", "--scale", "answers", "--seed",
                   str(seed), "--today", LAKE_TODAY.isoformat(), "--out", str(path)]  # fmt: skip
        subprocess.run(command, check=True, cwd=REPO_ROOT)  # noqa: S603 - the exhaust CLI with fixed arguments
    return path


def cases() -> list[dict[str, Any]]:
    from exhaust.export.service import MAX_SYNC_ROWS
    from exhaust.legacy.rules import MAX_RANGE_DAYS

    first = LAKE_TODAY - dt.timedelta(days=LAKE_DAYS)
    found: list[dict[str, Any]] = []
    for lowered in (False, True):
        outcome = "refused, cap halved" if lowered else "largest accepted"
        found.append({"api": "legacy", "name": f"legacy {MAX_RANGE_DAYS} days ({outcome})", "days": MAX_RANGE_DAYS,
                      "halve_cap": lowered})  # fmt: skip
        for export_format, limit in MAX_SYNC_ROWS.items():
            # The estimate counts whole row groups, those across the range's first and last midnight included,
            # hence a day less than the cap holds when it is below the whole lake.
            days = min(LAKE_DAYS, limit // OBSERVATIONS_PER_DAY - (limit < LAKE_DAYS * OBSERVATIONS_PER_DAY))
            found.append({"api": "export", "name": f"export {export_format} {days} days ({outcome})",
                          "format": export_format, "days": days, "halve_cap": lowered})  # fmt: skip
    for case in found:
        case["from"] = first.isoformat()
        case["to"] = (first + dt.timedelta(days=case["days"] - 1)).isoformat()
    return found


def child(case: dict[str, Any], lake_dir: str) -> dict[str, Any]:
    """One case in moto: the answer's status, time and size (a 303's zip is read back from moto's S3)."""
    from exhaust import aws
    from exhaust.errors import ServiceError
    from exhaust.lake.store import Lake
    from exhaust_devkit.local.resources import create_resources
    from moto import mock_aws

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with contextlib.ExitStack() as stack:
        if case.get("lake_in_s3"):
            # A moto server over HTTP, as local mode runs: every footer and row group is a ranged GET.
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            stack.callback(server.stop)
            os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        else:
            stack.enter_context(mock_aws())
        aws.reset_clients()
        settings = create_resources()
        os.environ.update(settings.as_environ())
        lake_uri = lake_dir
        if case.get("lake_in_s3"):
            lake_uri = f"s3://{settings.lake_bucket}/bench-lake"
            for table in ("telemetry", "observations"):
                for part in sorted((Path(lake_dir) / table).glob("*.parquet")):
                    aws.client("s3").upload_file(str(part), settings.lake_bucket, f"bench-lake/{table}/{part.name}")
        opener = lambda: Lake.open(lake_uri)  # noqa: E731 - the services' lake opener
        if case["api"] == "legacy":
            from exhaust.auth.credentials import CredentialStore, resource_id_of
            from exhaust.legacy import service as legacy_service
            from exhaust.legacy.service import LegacyService

            if case["halve_cap"]:
                legacy_service.MAX_SYNC_EVENTS = case["days"] * PARTNER_EVENTS_PER_DAY // 2

            resource = resource_id_of("org.sample.partner")
            key = CredentialStore().create("license", "bench", resource_ids=[resource], datasets=["raw-telemetry"])[0]
            service = LegacyService(lake_opener=opener, settings=settings, today=lambda: LAKE_TODAY)
            body = json.dumps({"params": {"msgid": "bench"}, "request": {"licensekey": key}}).encode()
            call = lambda: service.download("raw-telemetry", resource, case["from"], case["to"], body)  # noqa: E731
        else:
            from exhaust.export import service as export_service
            from exhaust.export.service import ExportService

            if case["halve_cap"]:
                halved = case["days"] * OBSERVATIONS_PER_DAY // 2
                export_service.MAX_SYNC_ROWS = {**export_service.MAX_SYNC_ROWS, case["format"]: halved}
            exporter = ExportService(lake_opener=opener, settings=settings)
            call = lambda: exporter.export(case["format"], case["from"], case["to"])  # noqa: E731
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            answer = call()
            status, message = answer.status, ""
        except ServiceError as error:
            status, message = error.status, error.message
            answer = None
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
        size = 0
        if answer is not None and status == 303:
            # The one zip this fresh account holds is the answer's.
            listing = aws.client("s3").list_objects_v2(Bucket=settings.exhaust_bucket, Prefix=f"{case['api']}")
            size = sum(item["Size"] for item in listing.get("Contents", []) if item["Key"].endswith(".zip"))
        elif answer is not None:
            size = len(answer.body)
    return {
        **case,
        "status": status,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "zip_mb": round(size / 2**20, 1),
        "message": message,
        "load_1min": round(os.getloadavg()[0], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("legacy", "export"))
    parser.add_argument("--lake-in-s3", action="store_true", help="the lake in a moto server (slower to set up)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child), args.lake)))
        return 0
    from exhaust.downloads import API_FUNCTION_TIMEOUT_SECONDS

    lake = ensure_lake(args.seed)
    results = []
    for case in cases():
        if args.only and case["api"] != args.only:
            continue
        if args.lake_in_s3:
            case = {**case, "name": f"{case['name']}, lake in S3", "lake_in_s3": True}
        output = subprocess.run(  # noqa: S603 - this script with its own arguments
            [sys.executable, __file__, "--child", json.dumps(case), "--lake", str(lake)],
            check=True, capture_output=True, text=True, cwd=REPO_ROOT,
        ).stdout  # fmt: skip
        result = json.loads(output.strip().splitlines()[-1])
        accepted = result["status"] in (200, 303)
        result["within_limit"] = result["seconds"] < (API_FUNCTION_TIMEOUT_SECONDS if accepted else 1.0)
        results.append(result)
        print(f"{result['name']:<42} {result['status']} {result['seconds']:>6.2f} s (cpu {result['cpu_seconds']:.2f}) "
              f"{result['zip_mb']:>7.1f} MB  load {result['load_1min']}", flush=True)  # fmt: skip
    (RESULTS_S3 if args.lake_in_s3 else RESULTS).write_text(
        json.dumps(
            {"machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}",
             "results": results},
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    return 0 if all(result["within_limit"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
