"""An incremental lake index against a full one, after a load touching 1% of the batches.

    make bench-index-incremental    # or: .venv/bin/python bench/bench_incremental.py [--enrolments N] [--engine spark]

A copy of the cached platform lake (bench/bench_index.py's, seed 1) is indexed in full by `exhaust lake index
--full`; a load then gives new enrolments to 0.5% of its batches and changes the profiles of users enrolled in
another 0.5% (`exhaust_devkit.lake.loads.touch_batches`, rewriting every enrolments and users file holding a
change, as a loader that rewrites its tables would). The loaded lake is then indexed twice, each in a process of
its own and sampled as bench_index samples: incrementally (`exhaust lake index`) and, on a second copy, in full.
Every batch's row groups are compared byte for byte between the two. Results go to
bench/incremental_results.json; docs/benchmarks.md reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from exhaust.lake.store import Lake
from exhaust_devkit.lake.loads import batch_row_group_digests, touch_batches

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import CACHE, CORES, REPO_ROOT, measured, platform_lake

RESULTS = REPO_ROOT / "bench" / "incremental_results.json"
SHARE = 0.01
TARGET_RATIO = 0.10


def bench(enrolments: int, seed: int, engine: str) -> dict[str, Any]:
    def index(root: Path, *extra: str) -> dict[str, Any]:
        command = [str(REPO_ROOT / ".venv/bin/exhaust"), "lake", "index", "--lake", str(root), "--engine", engine]
        return measured([*command, *(["--cores", str(CORES)] if engine == "spark" else []), *extra])

    source, shape = platform_lake(enrolments)
    incremental, full = CACHE / f"incremental-lake-{enrolments}", CACHE / f"incremental-full-{enrolments}"
    for copy in (incremental, full):
        shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, incremental)
    first = index(incremental, "--full")
    load = touch_batches(Lake.open(str(incremental)), SHARE, seed)
    shutil.copytree(incremental, full)
    runs = {"incremental": index(incremental), "full": index(full, "--full")}
    if "reindexed_batches" not in runs["incremental"]["printed"]:
        raise SystemExit("the run after the load was not incremental: see docs/lake.md for when it is full")
    same = batch_row_group_digests(Lake.open(str(incremental))) == batch_row_group_digests(Lake.open(str(full)))
    result = {
        "shape": shape,
        "load": {
            "batches": len(load.batches),
            "share_of_batches": round(len(load.batches) / shape["batches"], 4),
            "new_enrolments": load.new_enrolments,
            "changed_users": load.changed_users,
        },
        "first_full_index": {key: value for key, value in first.items() if key != "printed"},
        **{name: {key: value for key, value in run.items() if key != "printed"} for name, run in runs.items()},
        "reindexed_batches": runs["incremental"]["printed"]["reindexed_batches"],
        "wall_ratio": round(runs["incremental"]["wall_seconds"] / runs["full"]["wall_seconds"], 3),
        "cpu_ratio": round(runs["incremental"]["cpu_seconds"] / runs["full"]["cpu_seconds"], 3),
        "batch_row_groups_identical": same,
    }
    result["within_target"] = max(result["wall_ratio"], result["cpu_ratio"]) <= TARGET_RATIO and same
    for copy in (incremental, full):
        shutil.rmtree(copy)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=1, help="the load's choice of batches and users")
    parser.add_argument("--engine", choices=("local", "spark"), default="local")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for enrolments in args.enrolments:
        measured_at = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
        found = bench(enrolments, args.seed, args.engine)
        print(json.dumps({"enrolments": enrolments, **{k: v for k, v in found.items() if k != "shape"}}))
        results[f"{args.engine}-{enrolments}"] = {**found, "measured_at": measured_at,
                                    "load_average_at_end": round(os.getloadavg()[0], 1)}  # fmt: skip
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
