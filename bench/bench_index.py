"""The lake index at platform scale: the single process against the Spark job (local mode, 2 cores).

    make bench-index    # or: .venv/bin/python bench/bench_index.py [--enrolments 1000000 2000000 ...]

For each size, a platform lake (`exhaust lake generate --scale platform`, seed 1, cached in .build/) is indexed by
`exhaust lake index --engine local`, then by `--engine spark --cores 2`, each in a process of its own. The
process tree is sampled every 0.2 s from /proc: wall and CPU seconds (every process of the tree), the peak RSS
(VmHWM) of the driver (the CLI's Python and, for Spark, its JVM) and of each Python worker, and rows (enrolment
and attempt rows read) per second per core. The two runs' derived tables are compared byte for byte. Results go
to bench/index_results.json (merged by size, so sizes can be run one at a time); docs/benchmarks.md reports them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from exhaust.lake.index_parts import DERIVED_TABLES
from exhaust.lake.store import Lake

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "index_results.json"
CACHE = REPO_ROOT / ".build"
SIZES = (1_000_000, 2_000_000, 5_000_000, 10_000_000)
CORES = 2
SAMPLE_SECONDS = 0.2
TICKS = os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    """The pids of `root` and every descendant alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _sample(pid: int) -> dict[str, Any] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    peak = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return {"cpu": (int(stat[11]) + int(stat[12])) / TICKS, "peak_mb": peak / 1024, "command": command}


def measured(command: list[str]) -> dict[str, Any]:
    """Run `command` (niced) and sample its process tree until it ends."""
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 (our own CLI, niced: the bench must not crowd the machine)
        ["/usr/bin/nice", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: dict[int, dict[str, Any]] = {}
    while process.poll() is None:
        for pid in _tree(process.pid):
            sample = _sample(pid)
            if sample is not None:  # a process's last samples may be of its zombie: keep what it showed alive
                earlier = seen.get(pid, {"cpu": 0.0, "peak_mb": 0.0, "command": ""})
                seen[pid] = {"cpu": max(sample["cpu"], earlier["cpu"]),
                             "peak_mb": max(sample["peak_mb"], earlier["peak_mb"]),
                             "command": sample["command"] or earlier["command"]}  # fmt: skip
        time.sleep(SAMPLE_SECONDS)
    wall = time.monotonic() - started
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {err[-3000:]}")
    workers = [
        sample
        for sample in seen.values()
        if "pyspark.daemon" in sample["command"] or "pyspark/daemon" in sample["command"]
    ]
    driver = [
        sample
        for sample in seen.values()
        if sample not in workers and ("exhaust" in sample["command"] or "java" in sample["command"])
    ]
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(sum(sample["cpu"] for sample in seen.values()), 1),
        "driver_peak_rss_mb": round(sum(sample["peak_mb"] for sample in driver)),
        "worker_peak_rss_mb": round(max((sample["peak_mb"] for sample in workers), default=0)),
        "python_workers": len(workers),
        # Where the CPU went: the Python workers (the rules, the Parquet writing) against the driver side (Spark's
        # JVM: reading, joins, the shuffle; the CLI's Python: plan, consents, publication).
        "worker_cpu_seconds": round(sum(sample["cpu"] for sample in workers), 1),
        "jvm_cpu_seconds": round(sum(sample["cpu"] for sample in driver if "java" in sample["command"]), 1),
        "printed": json.loads(out.strip().splitlines()[-1]),
    }


def platform_lake(enrolments: int) -> tuple[Path, dict[str, Any]]:
    """The cached platform lake of this size (generated once)."""
    root = CACHE / f"platform-lake-{enrolments}"
    shape_file = root / "_shape.json"
    if not shape_file.exists():
        generated = measured([str(REPO_ROOT / ".venv/bin/exhaust"), "lake", "generate", "--scale", "platform",
                              "--enrolments", str(enrolments), "--seed", "1", "--out", str(root),
                              "--today", "2026-12-01"])  # fmt: skip
        shape = {**generated["printed"], "generate_seconds": generated["wall_seconds"],
                 "generate_peak_rss_mb": generated["driver_peak_rss_mb"]}  # fmt: skip
        shape_file.write_text(json.dumps(shape))
    return root, json.loads(shape_file.read_text())


def digests(root: Path) -> dict[str, str]:
    """The published parts of each derived table by part name (each run writes them in a folder of its own)."""
    lake = Lake.open(str(root))
    found = {
        f"{table}/{Path(path).name}": hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for table in DERIVED_TABLES
        for path, _ in lake.files(table)
    }
    if not found:
        raise SystemExit(f"{root}: the index published no derived table")
    return found


def bench(enrolments: int, engines: list[str]) -> dict[str, Any]:
    root, shape = platform_lake(enrolments)
    rows = shape["enrolments"] + shape["attemptRows"]
    result: dict[str, Any] = {"shape": shape, "rows_read": rows}
    written: dict[str, dict[str, str]] = {}
    for engine in engines:
        command = [str(REPO_ROOT / ".venv/bin/exhaust"), "lake", "index", "--lake", str(root), "--engine", engine]
        command += ["--cores", str(CORES)] if engine == "spark" else ["--full"]  # the lake is indexed already
        run = measured(command)
        run["rows_per_second_per_core"] = round(rows / run["wall_seconds"] / (CORES if engine == "spark" else 1))
        result[engine] = run
        written[engine] = digests(root)
        print(
            json.dumps({"enrolments": enrolments, "engine": engine, **{k: v for k, v in run.items() if k != "printed"}})
        )
    if len(written) == 2:
        result["byte_identical"] = written["local"] == written["spark"]
        result["part_files_per_table"] = len(written["spark"]) // len(DERIVED_TABLES)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--engines", nargs="+", choices=("local", "spark"), default=["local", "spark"])
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for enrolments in args.enrolments:
        measured_at = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
        results[str(enrolments)] = {**bench(enrolments, args.engines), "measured_at": measured_at,
                                    "load_average_at_end": round(os.getloadavg()[0], 1)}  # fmt: skip
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
