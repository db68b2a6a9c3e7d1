"""Benchmark: the three on-demand datasets against their physical floor, small batches, and cold starts.

    make bench      # or: .venv/bin/python bench/bench_builders.py [--seed 1] [--datasets progress-exhaust ...]

1. Generates the large lake once into .build/bench-lake-large-seed{N}/ (reused while it exists).
2. Per dataset, for the lake's 1,000,000-enrolment batch, in fresh processes:
   - build: the dataset's zip from the lake (seconds, CPU seconds of all threads, peak RSS, rows, whether the
     rows came from the index's lines); the builder's modules are imported before the clock starts;
   - floor (a), encoding: the build's CSV read back into an Arrow table (not timed), then written as CSV with
     Arrow's writer (the fastest we have), in chunks like the builder's;
   - floor (b), packaging: those CSV bytes (in memory) into the same AES-256 zip (ISA-L deflate, every CPU),
     and on one core; ratio = build / (a + b).
   For progress-exhaust, also: each compression level on one core (seconds, MB) and the old floor (pyzipper,
   deflate 6).
3. Small batches: each dataset for 100 small batches one after another, each on a fresh Lake as each Lambda
   invocation would (bytes and reads per batch through a counting filesystem, total seconds).
4. Cold starts: every zip-function handler (functions/*/handler.py not in IMAGE_FUNCTIONS) imported in a fresh
   process as Lambda would (tracing enabled): wall time from start to imported, and with the interpreter's exit;
   median of 5.
5. Index vs live: the big batch's userinfo- and response-exhaust CSV from the index's lines and computed live
   (the lines' table moved aside), sha256 of each (`--identity` runs only this).
6. Prints and writes bench/results.json and the results section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from exhaust.resources import FUNCTION_ENVIRONMENT, IMAGE_FUNCTIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
LAKE_TODAY = "2026-11-01"
PASSWORD = "bench-password"  # noqa: S105 - the benchmark's throwaway zip password
READ_BYTES = 1024 * 1024
DATASETS = ("progress-exhaust", "userinfo-exhaust", "response-exhaust")
ENCODE_CHUNK_ROWS = 32_768
SMALL_BATCHES = 100
COLD_START_RUNS = 5
# Packaging on one core is a capability (MB/s per core): the best of a few runs, the machine being shared.
PER_CORE_RUNS = 3
Answer = TypeVar("Answer")
DOCS = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS_START, RESULTS_END = "<!-- bench:results -->", "<!-- /bench:results -->"
# A deployed function's environment, tracing on: Powertools only traces inside Lambda.
LAMBDA_ENVIRONMENT = {
    **FUNCTION_ENVIRONMENT,
    "AWS_LAMBDA_FUNCTION_NAME": "exhaust-bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Ends the process at once, as Lambda's init ends: no interpreter exit (child_cold_start).
READY = "import os; os._exit(0)"
IMPORT_HANDLER = (
    "import importlib.util, sys; spec = importlib.util.spec_from_file_location('handler', sys.argv[1]); "
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(function: Callable[[], Answer]) -> tuple[Answer, float, float]:
    started, started_cpu = time.perf_counter(), time.process_time()
    answer = function()
    return answer, time.perf_counter() - started, time.process_time() - started_cpu


def best_seconds(function: Callable[[], object], runs: int = PER_CORE_RUNS) -> float:
    """The fastest of `runs` wall times: what the code can do, without the moments a neighbour took the core."""
    return min(timed(function)[1] for _ in range(runs))


# ---- children (each in a fresh process) ---------------------------------------------------------------------
def child_build(args: argparse.Namespace) -> dict:
    # The builder's modules (pyarrow, the zip writer: about 0.3 s) are imported before the clock starts, as the
    # floor's are: a warm function has them, and a cold one's import is the cold-start figure.
    from exhaust.builders import BatchBuild
    from exhaust.builders.build import build_batch_zip

    build = BatchBuild(
        args.dataset, args.batch_id, args.channel, PASSWORD, args.lake, dt.date.fromisoformat(LAKE_TODAY)
    )
    summary, seconds, cpu = timed(lambda: build_batch_zip(build, Path(args.output)))
    return {"rows": summary.rows, "seconds": seconds, "cpu_seconds": cpu, "bytes": summary.bytes,
            "peak_rss_mb": peak_rss_mb(), "rows_from": summary.rows_from}  # fmt: skip


def child_floor(args: argparse.Namespace) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from exhaust.aes_zip import COMPRESS_LEVEL, EncryptedCsvZip
    from exhaust.builders.common import encode_csv

    csv_bytes = Path(args.csv).read_bytes()
    table = pacsv.read_csv(pa.py_buffer(csv_bytes))

    def encode() -> int:
        return sum(encode_csv(chunk.columns).size for chunk in table.to_batches(max_chunksize=ENCODE_CHUNK_ROWS))

    def package(level: int, workers: int | None) -> int:
        with EncryptedCsvZip(Path(args.output), "floor.csv", PASSWORD, level, workers=workers) as archive:
            archive.write_csv_bytes(csv_bytes, rows=table.num_rows)
        assert archive.summary is not None
        return archive.summary.bytes

    _, encode_seconds, encode_cpu = timed(encode)
    zip_bytes, package_seconds, package_cpu = timed(lambda: package(COMPRESS_LEVEL, None))
    one_core_seconds = best_seconds(lambda: package(COMPRESS_LEVEL, 1))
    answer: dict = {
        "encode_seconds": encode_seconds, "encode_cpu_seconds": encode_cpu,
        "package_seconds": package_seconds, "package_cpu_seconds": package_cpu, "zip_bytes": zip_bytes,
        "package_one_core_seconds": one_core_seconds, "csv_bytes": len(csv_bytes),
    }  # fmt: skip
    if args.levels:
        answer["levels"] = {}
        for level in range(4):
            seconds = best_seconds(partial(package, level, 1))
            answer["levels"][f"isal {level}"] = {"seconds": seconds, "zip_mb": package(level, 1) / 2**20}
        size, seconds, _ = timed(lambda: old_floor(csv_bytes, Path(args.output)))
        answer["levels"]["pyzipper deflate 6 (before)"] = {"seconds": seconds, "zip_mb": size / 2**20}
    return answer


def old_floor(csv_bytes: bytes, path: Path) -> int:
    """The packaging of the first version: pyzipper at zlib's level 6, single-threaded."""
    import pyzipper

    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, compresslevel=6,
                             encryption=pyzipper.WZ_AES) as archive:  # fmt: skip
        archive.setpassword(PASSWORD.encode())
        with archive.open("floor.csv", "w", force_zip64=True) as member:
            for start in range(0, len(csv_bytes), READ_BYTES):
                member.write(csv_bytes[start : start + READ_BYTES])
    return path.stat().st_size


def child_small(args: argparse.Namespace) -> dict:
    import pyarrow.fs as pafs
    from exhaust.builders import BatchBuild, BuildError, build_batch_zip
    from exhaust.lake.store import Lake
    from exhaust_devkit.lake.metering import CountingHandler

    batches = json.loads(args.batches)
    per_batch = []
    started = time.perf_counter()
    for batch_id in batches:
        handler = CountingHandler()
        lake = Lake(pafs.PyFileSystem(handler), args.lake)
        try:
            build = BatchBuild(args.dataset or "progress-exhaust", batch_id, args.channel, PASSWORD, lake,
                               dt.date.fromisoformat(LAKE_TODAY))  # fmt: skip
            summary = build_batch_zip(build, Path(args.output))
        except BuildError:  # retired collections, no consent asked, no row: not built
            continue
        per_batch.append({"rows": summary.rows, "bytes": sum(handler.bytes_read.values()),
                          "reads": sum(handler.reads.values()), "rows_from": summary.rows_from})  # fmt: skip
    return {"seconds": time.perf_counter() - started, "batches": per_batch}


def child_cold_start(args: argparse.Namespace) -> dict:
    """Median wall and CPU time of a Python process starting and importing each handler, and of an empty one.

    A cold start ends when the handler is imported: Lambda then invokes it in the same process, which never
    exits in between. So the process ends itself right after the import (`os._exit`, as if killed), and the
    interpreter's own exit (freeing every module: 25-30 ms here) is timed apart, as `with_exit_ms`. CPU time
    (user + system of the child) is what the import costs; the wall time adds any wait for a core.
    """
    environment = {**os.environ, **LAMBDA_ENVIRONMENT}
    compile_bytecode()
    handlers = sorted(
        path for path in (REPO_ROOT / "functions").glob("*/handler.py") if path.parent.name not in IMAGE_FUNCTIONS
    )
    imports: dict[str, tuple[str, list[str]]] = {"python_alone": ("pass", [])}
    imports.update({path.parent.name: (IMPORT_HANDLER, [str(path)]) for path in handlers})
    # Round-robin: a second of noise from a neighbour then costs several handlers one run each, which their
    # medians drop, instead of all the runs of one handler.
    ready: dict[str, list[tuple[float, float]]] = {name: [] for name in imports}
    exited: dict[str, list[tuple[float, float]]] = {name: [] for name in imports}
    for _ in range(COLD_START_RUNS):
        for name, (code, arguments) in imports.items():
            ready[name].append(_process_seconds([sys.executable, "-c", f"{code}; {READY}", *arguments], environment))
            exited[name].append(_process_seconds([sys.executable, "-c", code, *arguments], environment))
    return {
        name: {
            "wall_ms": round(statistics.median(wall for wall, _ in ready[name]) * 1000),
            "cpu_ms": round(statistics.median(cpu for _, cpu in ready[name]) * 1000),
            "with_exit_ms": round(statistics.median(wall for wall, _ in exited[name]) * 1000),
        }
        for name in imports
    }


def compile_bytecode() -> None:
    """Bytecode for every module a handler may import, as a deployed package carries it (docs/benchmarks.md).

    Without it each import compiles its module from source, and whether a module has bytecode here depends on
    what ran before with PYTHONDONTWRITEBYTECODE unset: cold starts measured 1.5-3x their real cost that way.
    """
    for directory in (Path(sysconfig.get_paths()["purelib"]), REPO_ROOT / "layers", REPO_ROOT / "functions"):
        compileall.compile_dir(directory, quiet=1, workers=0)


def _process_seconds(command: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process, start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, env=environment, cwd=REPO_ROOT, capture_output=True)  # noqa: S603
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


# ---- the parent -----------------------------------------------------------------------------------------------
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
            [sys.executable, "-m", "exhaust_devkit.cli", "lake", "generate", "--scale", "large", "--seed", str(seed),
             "--out", str(lake), "--today", LAKE_TODAY],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        samples = json.loads(answer.stdout)["samples"]
        samples_file.write_text(json.dumps(samples, indent=2))
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    ensure_indexed(lake)
    return lake, json.loads(samples_file.read_text())


def ensure_indexed(lake: Path) -> None:
    """Re-index a kept lake whose derived tables are missing, stale or from an older version: progress-exhaust
    refuses a stale batch_users, and userinfo- and response-exhaust would build live instead of timing the index's
    lines."""
    from exhaust.lake.materialized import stale_derived_tables
    from exhaust.lake.store import Lake

    stale = stale_derived_tables(Lake.open(str(lake)))
    if stale:
        print(f"derived tables {stale}; indexing (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "exhaust_devkit.cli", "lake", "index", "--lake", str(lake)],  # noqa: S603
                       check=True, capture_output=True)  # fmt: skip


def extract_csv(zip_path: Path, csv_path: Path) -> None:
    import pyzipper

    with pyzipper.AESZipFile(zip_path) as archive, open(csv_path, "wb") as target:
        archive.setpassword(PASSWORD.encode())
        with archive.open(archive.namelist()[0]) as member:
            while block := member.read(READ_BYTES):
                target.write(block)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def identity(lake: Path, samples: dict, work: Path) -> dict:
    """The big batch's userinfo- and response-exhaust CSV from the index's lines and again computed live (the
    lines' table moved aside, so the build finds none): sha256 of each, and the live build's figures."""
    from exhaust.lake.materialized import RESPONSE_LINES, USERINFO_LINES

    answer = {}
    for dataset, table in (("userinfo-exhaust", USERINFO_LINES), ("response-exhaust", RESPONSE_LINES)):
        found = {}
        for path in ("index", "live"):
            aside = lake / f"{table}.aside"
            if path == "live":
                (lake / table).rename(aside)
            try:
                build = run_child("--child", "build", "--dataset", dataset, "--lake", str(lake), "--batch-id",
                                  samples["progressBatchId"], "--channel", samples["channel"],
                                  "--output", str(work / "i.zip"))  # fmt: skip
            finally:
                if path == "live":
                    aside.rename(lake / table)
            assert build["rows_from"] == path, build
            extract_csv(work / "i.zip", work / "i.csv")
            found[path] = {"sha256": sha256_of(work / "i.csv"), "rows": build["rows"],
                           "seconds": round(build["seconds"], 2), "cpu_seconds": round(build["cpu_seconds"], 2),
                           "peak_rss_mb": round(build["peak_rss_mb"], 1),
                           "load_average_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
        found["same_bytes"] = found["index"]["sha256"] == found["live"]["sha256"]
        answer[dataset] = found
    return answer


def small_batch_ids(lake: Path, big_batch: str) -> list[str]:
    import pyarrow.compute as pc
    from exhaust.lake.store import Lake

    batch_ids = Lake.open(str(lake)).read("enrolments", ["batch_id"])["batch_id"]
    counts = pc.value_counts(batch_ids).to_pylist()
    small = sorted(item["values"] for item in counts if item["values"] != big_batch)
    return small[:SMALL_BATCHES]


def bench_dataset(dataset: str, lake: Path, samples: dict, work: Path) -> dict:
    build = run_child("--child", "build", "--dataset", dataset, "--lake", str(lake), "--batch-id",
                      samples["progressBatchId"], "--channel", samples["channel"],
                      "--output", str(work / "b.zip"))  # fmt: skip
    extract_csv(work / "b.zip", work / "b.csv")
    levels = ["--levels"] if dataset == "progress-exhaust" else []
    floor = run_child("--child", "floor", "--csv", str(work / "b.csv"), "--output", str(work / "f.zip"), *levels)
    floor_seconds = floor["encode_seconds"] + floor["package_seconds"]
    csv_mb = floor["csv_bytes"] / 2**20
    answer = {
        "rows": build["rows"],
        "rows_from": build["rows_from"],
        "seconds": round(build["seconds"], 2),
        "cpu_seconds": round(build["cpu_seconds"], 2),
        "peak_rss_mb": round(build["peak_rss_mb"], 1),
        "rows_per_s": round(build["rows"] / build["seconds"]),
        "floor_encode_seconds": round(floor["encode_seconds"], 2),
        "floor_package_seconds": round(floor["package_seconds"], 2),
        "floor_seconds": round(floor_seconds, 2),
        "ratio": round(build["seconds"] / floor_seconds, 2),
        "floor_cpu_seconds": round(floor["encode_cpu_seconds"] + floor["package_cpu_seconds"], 2),
        "cpu_ratio": round(build["cpu_seconds"] / (floor["encode_cpu_seconds"] + floor["package_cpu_seconds"]), 2),
        "package_mb_per_s": round(csv_mb / floor["package_seconds"]),
        "package_mb_per_s_one_core": round(csv_mb / floor["package_one_core_seconds"]),
        "csv_mb": round(csv_mb, 1),
        "zip_mb": round(build["bytes"] / 2**20, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if "levels" in floor:
        answer["levels"] = {
            name: {"seconds": round(item["seconds"], 2), "mb_per_s": round(csv_mb / item["seconds"]),
                   "zip_mb": round(item["zip_mb"], 1)}
            for name, item in floor["levels"].items()
        }  # fmt: skip
    return answer


def summarise_small(small: dict) -> dict:
    batches = small["batches"]
    over = [b for b in batches if b["bytes"] > 2 * 2**20 + b["rows"] * 2**20 / 1000]
    return {
        "batches": len(batches),
        "rows": sum(b["rows"] for b in batches),
        "seconds": round(small["seconds"], 2),
        "bytes_per_batch_median_kb": round(statistics.median(b["bytes"] for b in batches) / 1024),
        "bytes_per_batch_max_kb": round(max(b["bytes"] for b in batches) / 1024),
        "reads_per_batch_median": statistics.median(b["reads"] for b in batches),
        "reads_per_batch_max": max(b["reads"] for b in batches),
        "batches_over_budget": len(over),
        "rows_from": sorted({b["rows_from"] for b in batches}),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def markdown(results: dict) -> str:
    lines = [RESULTS_START, "", f"Last `make bench`: {results['when']}, {results['machine']['cpus']} CPUs, "
             f"Python {results['machine']['python']}, load average at start {results['load_average_at_start']}.", "",
             "| dataset | rows | rows from | build s | cpu s | peak RSS MB | floor: encode s | floor: package s | "
             "**ratio** | cpu ratio | package MB/s (1 core) | CSV MB | zip MB | load |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, item in results["datasets"].items():
        lines.append(
            f"| {name} | {item['rows']:,} | {item['rows_from']} | {item['seconds']} | {item['cpu_seconds']} | "
            f"{item['peak_rss_mb']} | "
            f"{item['floor_encode_seconds']} | {item['floor_package_seconds']} | **{item['ratio']}** | "
            f"{item['cpu_ratio']} | {item['package_mb_per_s']} ({item['package_mb_per_s_one_core']}) | "
            f"{item['csv_mb']} | {item['zip_mb']} | {item['load_average_1m']} |"
        )
    levels = results["datasets"].get("progress-exhaust", {}).get("levels", {})
    if levels:
        lines += ["", "Compression level, one core, progress-exhaust's CSV:", "",
                  "| packaging | seconds | MB/s | zip MB |", "| --- | --- | --- | --- |"]  # fmt: skip
        lines += [
            f"| {name} | {item['seconds']} | {item['mb_per_s']} | {item['zip_mb']} |" for name, item in levels.items()
        ]
    identical = results.get("identity", {})
    if identical:
        lines += ["", "The big batch's CSV from the index's lines and computed live, sha256:", "",
                  "| dataset | from the index | live | same bytes | live build s (cpu s) |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        lines += [
            f"| {name} | `{item['index']['sha256'][:16]}...` | `{item['live']['sha256'][:16]}...` | "
            f"{'yes' if item['same_bytes'] else '**no**'} | {item['live']['seconds']} ({item['live']['cpu_seconds']}) |"
            for name, item in identical.items()
        ]
    lines += ["", "Small batches, one after another, each on a fresh `Lake` (budget: 2 MB + 1 MB per 1,000 rows):", "",
              "| dataset | batches built | rows | seconds | KB read per batch (max) | reads per batch (max) | "
              "over the budget | rows from |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, small in results["small_batches"].items():
        lines.append(
            f"| {name} | {small['batches']} | {small['rows']:,} | {small['seconds']} | "
            f"{small['bytes_per_batch_median_kb']} ({small['bytes_per_batch_max_kb']}) | "
            f"{small['reads_per_batch_median']} ({small['reads_per_batch_max']}) | {small['batches_over_budget']} | "
            f"{', '.join(small['rows_from'])} |"
        )
    lines.append("")
    cold = results["cold_start_ms"]
    lines += [f"Cold start, median of {COLD_START_RUNS} processes each, start to handler imported (load "
              f"{results['cold_start_load']}); last column: the same process left to exit normally:", "",
              "| handler | wall ms | CPU ms | with the interpreter's exit, ms |",
              "| --- | --- | --- | --- |"]  # fmt: skip
    lines += [
        f"| {name} | {item['wall_ms']} | {item['cpu_ms']} | {item['with_exit_ms']} |" for name, item in cold.items()
    ]
    return "\n".join([*lines, "", RESULTS_END])


def write_docs(results: dict) -> None:
    text = DOCS.read_text()
    section = markdown(results)
    if RESULTS_START in text:
        before, rest = text.split(RESULTS_START, 1)
        text = before + section + rest.split(RESULTS_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--child", choices=["build", "floor", "small", "cold"], help=argparse.SUPPRESS)
    for hidden in ("--dataset", "--lake", "--batch-id", "--channel", "--output", "--csv", "--batches"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--levels", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--identity",
        action="store_true",
        help="only compare the big batch's userinfo and response CSV from the index and computed live (sha256)",
    )
    args = parser.parse_args()
    children = {"build": child_build, "floor": child_floor, "small": child_small, "cold": child_cold_start}
    if args.child:
        print(json.dumps(children[args.child](args)))
        return 0

    load_at_start = round(os.getloadavg()[0], 2)
    lake, samples = ensure_lake(args.seed)
    if args.identity:
        with tempfile.TemporaryDirectory(prefix="exhaust-bench-", dir=REPO_ROOT / ".build") as workdir:
            print(json.dumps(identity(lake, samples, Path(workdir)), indent=2))
        return 0
    results: dict = {"when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                     "load_average_at_start": load_at_start, "datasets": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="exhaust-bench-", dir=REPO_ROOT / ".build") as workdir:
        work = Path(workdir)
        for dataset in args.datasets:
            results["datasets"][dataset] = bench_dataset(dataset, lake, samples, work)
            print(dataset, json.dumps(results["datasets"][dataset]), flush=True)
        results["identity"] = identity(lake, samples, work)
        print("index vs live", json.dumps(results["identity"]), flush=True)
        small_ids = json.dumps(small_batch_ids(lake, samples["progressBatchId"]))
        results["small_batches"] = {}
        for dataset in args.datasets:  # userinfo-exhaust: only the batches of courses that ask for consent
            small = run_child("--child", "small", "--dataset", dataset, "--lake", str(lake),
                              "--channel", samples["channel"], "--output", str(work / "s.zip"),
                              "--batches", small_ids)  # fmt: skip
            results["small_batches"][dataset] = summarise_small(small)
            print("small batches", dataset, json.dumps(results["small_batches"][dataset]), flush=True)
    results["cold_start_ms"] = run_child("--child", "cold")
    results["cold_start_load"] = round(os.getloadavg()[0], 2)
    print("cold start ms", json.dumps(results["cold_start_ms"]), flush=True)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    results["targets"] = {"ratio": 1.5, "peak_rss_mb": 512, "package_mb_per_s_one_core": 500, "cold_start_ms": 250,
                          "small_batch_bytes": "2 MB + 1 MB per 1,000 rows"}  # fmt: skip
    (REPO_ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_docs(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
