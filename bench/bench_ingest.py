"""Benchmark `falls-risk ingest` (and the synth that feeds it) at N people.

Target (issue 2): a 70,000-person world, 2019-01-01..2025-12-31, ingested well under a minute on
2 cores. Usage::

    .venv/bin/python bench/bench_ingest.py                         # 70,000 people, ingest x3
    .venv/bin/python bench/bench_ingest.py --people 10000 --repeat 5
    .venv/bin/python bench/bench_ingest.py --world /tmp/world70k   # reuse (or keep) a world

The world is synthesised once (timed, in its own process) unless ``--world`` points at an existing
one; with ``--world`` and no world there, it is written there and kept for the next run. Each
ingest runs in a fresh process into a fresh workspace, so its peak RSS is its own. Prints one line
per run, the median ingest seconds, rows per second, the largest peak RSS, and writes the figures
to ``bench/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"

SYNTH_CHILD = r"""
import json, resource, sys, time
from datetime import date
from pathlib import Path
from falls_risk.synth import generate_world
out, people, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
summary = generate_world(out, people=people, seed=seed, start=date(2019, 1, 1), end=date(2025, 12, 31),
                         progress=False)
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))
"""

INGEST_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from falls_risk.ingest import run_ingest
summary = run_ingest(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_mb = usage.ru_maxrss / 1024
print(json.dumps({
    "seconds": seconds,
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "peak_rss_mb": peak_mb,
    "read": summary.read,
    "quarantined": summary.quarantined,
    "rows": {name: s.read for name, s in summary.sources.items()},
}))
"""


def _child(code: str, *args: object) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"benchmark child failed with exit code {result.returncode}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=70_000)
    parser.add_argument("--repeat", type=int, default=3, help="ingest runs (median reported)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--world", type=Path, default=None, help="world folder to reuse or keep")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        world = args.world or Path(tmp) / "world"
        synth = None
        if not (world / "extract").is_dir():
            synth = _child(SYNTH_CHILD, world, args.people, args.seed)
            print(
                f"synth: {synth['seconds']:.1f} s, peak RSS {synth['peak_rss_mb']:.0f} MB "
                f"({args.people:,} people)"
            )
        else:
            print(f"synth: reusing {world}")
        runs = []
        for i in range(args.repeat):
            ws = Path(tmp) / f"ws{i}"
            run = _child(INGEST_CHILD, world / "extract", ws)
            runs.append(run)
            print(
                f"ingest run {i + 1}: {run['seconds']:.1f} s wall, {run['cpu_seconds']:.1f} s CPU, "
                f"peak RSS {run['peak_rss_mb']:.0f} MB, "
                f"{run['read']:,} rows read, {run['quarantined']:,} quarantined"
            )
    median = statistics.median(r["seconds"] for r in runs)
    figures = {
        "people": args.people,
        "synth_seconds": None if synth is None else round(synth["seconds"], 2),
        "synth_peak_rss_mb": None if synth is None else round(synth["peak_rss_mb"]),
        "ingest_runs": len(runs),
        "ingest_median_seconds": round(median, 2),
        "ingest_median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        "ingest_rows_per_second": round(runs[-1]["read"] / median),
        "ingest_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "rows": runs[-1]["rows"],
    }
    print(
        f"people={args.people:,} ingest median={median:.1f} s wall "
        f"({figures['ingest_median_cpu_seconds']:.1f} s CPU) over {len(runs)} runs "
        f"({figures['ingest_rows_per_second']:,} rows/s), peak RSS {figures['ingest_peak_rss_mb']} MB"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
