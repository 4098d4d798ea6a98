"""Benchmark `falls-risk synth`: wall time and peak memory for a world of N people.

Target (issue 2): 70,000 people over 7 years (2019-01-01..2025-12-31) in under 3 minutes on
2 cores. Usage::

    .venv/bin/python bench/bench_synth.py                 # 70,000 people, one run
    .venv/bin/python bench/bench_synth.py --people 10000 --repeat 3

Each run is a fresh process, so peak RSS is the run's own. Prints one line per run, then the
median seconds and the largest peak RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
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
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "rows": summary["rows"]}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=70_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(Path(tmp) / "world"), str(args.people), str(args.seed)],
                check=True,
                capture_output=True,
                text=True,
            )
        run = json.loads(result.stdout.strip().splitlines()[-1])
        runs.append(run)
        gp_rx = run["rows"]["gp_events"] + run["rows"]["prescriptions"]
        print(
            f"run {i + 1}: {run['seconds']:.1f} s, peak RSS {run['peak_rss_mb']:.0f} MB, "
            f"gp_events + prescriptions = {gp_rx:,} rows"
        )
    print(
        f"people={args.people:,} median={statistics.median(r['seconds'] for r in runs):.1f} s "
        f"peak_rss={max(r['peak_rss_mb'] for r in runs):.0f} MB"
    )
    print(json.dumps(runs[-1]["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
