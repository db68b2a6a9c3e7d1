"""Benchmark: progress-exhaust for the large lake's 1,000,000-enrolment batch, against its floor.

    make bench            # or: .venv/bin/python bench/bench_builders.py [--seed 1] [--chunk-rows 65536]

1. Generates the large lake once into .build/bench-lake-large-seed{N}/ (reused while it exists).
2. In a fresh process: builds the batch's progress-exhaust zip from the lake (rows, seconds, peak RSS).
3. Decrypts that zip's CSV to a file, then in another fresh process times the floor: writing the same CSV bytes
   into the same AES-256 zip at the same compression level, with no lake reading or computing.
4. Prints and writes bench/results.json: rows, seconds, rows_per_s, peak_rss_mb, floor_seconds, ratio.
Targets: ratio <= 2.0 and peak RSS <= 1 GiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAKE_TODAY = "2026-11-01"
PASSWORD = "bench-password"  # noqa: S105 - the benchmark's throwaway zip password
READ_BYTES = 1024 * 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_build(args: argparse.Namespace) -> None:
    from exhaust.builders import build_batch_zip

    # Resident memory after each chunk: flat from the first chunks on means it does not grow with the batch.
    rss_by_rows: list[tuple[int, float]] = []
    started, started_cpu = time.perf_counter(), time.process_time()
    summary = build_batch_zip(
        "progress-exhaust",
        args.batch_id,
        args.channel,
        PASSWORD,
        args.lake,
        Path(args.output),
        dt.date.fromisoformat(LAKE_TODAY),
        chunk_rows=args.chunk_rows,
        on_rows=lambda rows: rss_by_rows.append((rows, round(current_rss_mb(), 1))),
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    answer = {
        "rows": summary.rows,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "bytes": summary.bytes,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps({**answer, "rss_mb_by_rows": rss_by_rows}))


def child_floor(args: argparse.Namespace) -> None:
    from exhaust.packaging import EncryptedCsvZip

    started, started_cpu = time.perf_counter(), time.process_time()
    with EncryptedCsvZip(Path(args.output), "floor.csv", PASSWORD) as archive, open(args.csv, "rb") as source:
        while block := source.read(READ_BYTES):
            archive.write_csv_bytes(block, rows=0)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_rss_mb()}))


def run_child(*arguments: str) -> dict:
    answer = subprocess.run(  # noqa: S603 - this script with its own arguments
        [sys.executable, __file__, *arguments], check=True, capture_output=True, text=True, cwd=REPO_ROOT
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def ensure_lake(seed: int) -> tuple[Path, dict]:
    lake = REPO_ROOT / ".build" / f"bench-lake-large-seed{seed}"
    samples_file = lake / "samples.json"
    if not samples_file.exists():
        print(f"generating the large lake into {lake} (once) ...", flush=True)
        started = time.perf_counter()
        answer = subprocess.run(  # noqa: S603 - the exhaust CLI with fixed arguments
            [sys.executable, "-m", "exhaust.cli", "lake", "generate", "--scale", "large", "--seed", str(seed),
             "--out", str(lake), "--today", LAKE_TODAY],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        samples = json.loads(answer.stdout)["samples"]
        samples_file.write_text(json.dumps(samples, indent=2))
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    return lake, json.loads(samples_file.read_text())


def extract_csv(zip_path: Path, csv_path: Path) -> None:
    import pyzipper

    with pyzipper.AESZipFile(zip_path) as archive, open(csv_path, "wb") as target:
        archive.setpassword(PASSWORD.encode())
        with archive.open(archive.namelist()[0]) as member:
            while block := member.read(READ_BYTES):
                target.write(block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-rows", type=int, default=65_536)
    parser.add_argument("--child", choices=["build", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--batch-id", help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        child_build(args)
        return 0
    if args.child == "floor":
        child_floor(args)
        return 0

    lake, samples = ensure_lake(args.seed)
    with tempfile.TemporaryDirectory(prefix="exhaust-bench-", dir=REPO_ROOT / ".build") as workdir:
        work = Path(workdir)
        build = run_child(
            "--child", "build", "--lake", str(lake), "--batch-id", samples["progressBatchId"],
            "--channel", samples["channel"], "--output", str(work / "build.zip"), "--chunk-rows", str(args.chunk_rows),
        )  # fmt: skip
        extract_csv(work / "build.zip", work / "build.csv")
        csv_bytes = (work / "build.csv").stat().st_size
        floor = run_child("--child", "floor", "--csv", str(work / "build.csv"), "--output", str(work / "floor.zip"))
    results = {
        "dataset": "progress-exhaust",
        "batch_id": samples["progressBatchId"],
        "rows": build["rows"],
        "seconds": round(build["seconds"], 2),
        "rows_per_s": round(build["rows"] / build["seconds"]),
        "peak_rss_mb": round(build["peak_rss_mb"], 1),
        "floor_seconds": round(floor["seconds"], 2),
        "ratio": round(build["seconds"] / floor["seconds"], 2),
        # CPU seconds of all threads: unlike wall time, not skewed by other work on the machine.
        "cpu_seconds": round(build["cpu_seconds"], 2),
        "floor_cpu_seconds": round(floor["cpu_seconds"], 2),
        "cpu_ratio": round(build["cpu_seconds"] / floor["cpu_seconds"], 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "csv_mb": round(csv_bytes / 2**20, 1),
        "zip_mb": round(build["bytes"] / 2**20, 1),
        "chunk_rows": args.chunk_rows,
        "rss_mb_by_rows": build["rss_mb_by_rows"][:: max(1, len(build["rss_mb_by_rows"]) // 8)],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "targets": {"ratio": 2.0, "peak_rss_mb": 1024},
    }
    (REPO_ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
