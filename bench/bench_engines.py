"""Benchmark: features and linkage on DuckDB and on Spark local, side by side.

On this 2-core machine Spark local is expected to be slower than DuckDB (a JVM, task scheduling
and Arrow hand-offs for work DuckDB does in one process); the point is the ratio and the memory
ceiling, which tell how much a cluster has to win back. Each measurement runs in its own child
process; its wall time, CPU seconds and peak memory cover the whole process tree (the Python
driver plus Spark's JVM and Python workers), sampled every 0.2 s with psutil. Spark's driver heap is
``--driver-memory`` (6g; the 2g default of ``SparkConfig`` runs out of heap on 70,000 people's
linkage).

Phases:
- ``features``: compute_features at one index date (2024-01-01) on a linked workspace built
  directly at the given size (``bench_features.generate``: the synthetic world's event volumes);
  the events table is built once beforehand, on DuckDB, and shared by both engines.
- ``linkage``: run_linkage with a saved Splink model (trained once on DuckDB) on a synthetic world
  of the given size (``bench_linkage.ensure_world``: synth + ingest), on each engine.

Usage (hold the heavy lock: it takes the whole machine)::

    flock /work/locks/heavy .venv/bin/python bench/bench_engines.py --people 70000 --phases features,linkage
    flock /work/locks/heavy .venv/bin/python bench/bench_engines.py --people 700000 --phases features
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

ENGINES = ("duckdb", "spark")
ONE_DATE = date(2024, 1, 1)

CHILD = {
    "features": """
import sys
from datetime import date
from falls_risk.config import SparkConfig
from falls_risk.features import compute_features
spark = SparkConfig(driver_memory=sys.argv[3])
table = compute_features(sys.argv[1], [date(2024, 1, 1)], engine=sys.argv[2], spark_config=spark)
print(len(table))
""",
    "linkage": """
import sys
from pathlib import Path
from falls_risk.config import SparkConfig
from falls_risk.linkage import run_linkage
spark = SparkConfig(driver_memory=sys.argv[3])
run_linkage(sys.argv[1], model_path=Path(sys.argv[4]), progress=False, engine=sys.argv[2], spark_config=spark)
print(0)
""",
}


def measure(argv: list[str]) -> dict:
    """Wall seconds, CPU seconds and peak RSS (GB) of a child process and all its descendants."""
    with tempfile.TemporaryFile(mode="w+") as log:
        return _measure(argv, log)


def _measure(argv: list[str], log) -> dict:
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    root = psutil.Process(child.pid)
    cpu: dict[int, float] = {}
    peak = 0
    while child.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        rss = 0
        for process in tree:
            try:
                times = process.cpu_times()
                cpu[process.pid] = times.user + times.system
                rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        peak = max(peak, rss)
        time.sleep(0.2)
    out = child.communicate()[0]
    if child.returncode != 0:
        log.seek(0)
        tail = "".join(line for line in log.readlines()[-400:] if "Error" in line or "Exception" in line)[-3000:]
        raise SystemExit(f"{' '.join(argv[3:])} failed with exit code {child.returncode}:\n{tail}")
    return {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(sum(cpu.values()), 1),
            "peak_gb": round(peak / 1024**3, 2), "rows": int(out.strip().splitlines()[-1])}


def run(phase: str, ws: Path, engine: str, extra: list[str], repeats: int) -> dict:
    runs = [measure([sys.executable, "-c", CHILD[phase], str(ws), engine, *extra]) for _ in range(repeats)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def features_workspace(people: int, root: Path) -> Path:
    import bench_features

    from falls_risk import catalog
    from falls_risk.events import build_events

    ws = root / f"features-{people}"
    if not catalog.POPULATION.exists(ws):
        print(f"building a linked workspace of {people:,} people in {ws} ...", flush=True)
        ws.mkdir(parents=True, exist_ok=True)
        bench_features.generate(ws, people)
    if not catalog.EVENTS.exists(ws):
        build_events(ws)
    return ws


def linkage_workspace(people: int, root: Path) -> tuple[Path, Path]:
    import bench_linkage

    from falls_risk import catalog
    from falls_risk.linkage import run_linkage

    world = root / f"world-{people}"
    bench_linkage.ensure_world(world, people, seed=1)
    model = world / "linkage_model.json"
    if not model.exists():
        print("training the Splink model once, on DuckDB ...", flush=True)
        run_linkage(world / "ws", retrain=True, progress=False)
        shutil.copy(catalog.LINKAGE_MODEL.path(world / "ws"), model)
    return world / "ws", model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=70_000)
    parser.add_argument("--phases", default="features,linkage")
    parser.add_argument("--repeats", type=int, default=1, help="runs per engine (median reported)")
    parser.add_argument("--driver-memory", default="6g",
                        help="Spark driver heap (local mode: the executor too); 2g runs out on 70,000 people's linkage")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "falls-risk-bench-engines")
    args = parser.parse_args()
    os.environ.setdefault("FALLS_RISK_SECRET", "bench-secret-not-for-real-use")
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for phase in args.phases.split(","):
        if phase == "features":
            ws, extra = features_workspace(args.people, args.root), [args.driver_memory]
        elif phase == "linkage":
            ws, model = linkage_workspace(args.people, args.root)
            extra = [args.driver_memory, str(model)]
        else:
            raise SystemExit(f"unknown phase {phase!r}: features or linkage")
        row = {"phase": phase, "people": args.people}
        for engine in ENGINES:
            row[engine] = run(phase, ws, engine, extra, args.repeats)
            print(f"{phase} on {engine}: {json.dumps(row[engine])}", flush=True)
        if row["duckdb"]["rows"] != row["spark"]["rows"] and phase == "features":
            raise SystemExit(f"features: {row['duckdb']['rows']} rows on DuckDB, {row['spark']['rows']} on Spark")
        results.append(row)
    print()
    print(f"{'phase':<9} {'people':>9} | {'wall s duckdb':>13} {'spark':>8} {'ratio':>6} | "
          f"{'CPU s duckdb':>12} {'spark':>8} {'ratio':>6} | {'peak GB duckdb':>14} {'spark':>6}")
    for row in results:
        d, s = row["duckdb"], row["spark"]
        print(f"{row['phase']:<9} {row['people']:>9,} | {d['wall_s']:>13} {s['wall_s']:>8} "
              f"{s['wall_s'] / max(d['wall_s'], 0.1):>6.1f} | {d['cpu_s']:>12} {s['cpu_s']:>8} "
              f"{s['cpu_s'] / max(d['cpu_s'], 0.1):>6.1f} | {d['peak_gb']:>14} {s['peak_gb']:>6}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
