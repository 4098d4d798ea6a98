"""The truncation test on a synthetic world of any size: how many feature rows change when every
source is cut to what was known at the index date.

    .venv/bin/python bench/bench_truncation.py [--people 3000] [--seed 7] [--world DIR]
        [--index-dates 2021-01-01:2024-10-01:quarterly] [--lag inpatient_spells=14 ...]

Builds (or reuses) DIR with a synthetic world, its ingested and linked workspace (``DIR/ws``),
then computes the features at every index date twice: from the full linked history, and from
every source cut at that date (``tests/features/truncation.py``: spells arrive at discharge,
episode ends and completions are filled in once they happen, each agency ``lag`` days late).
Prints the rows compared, the share of (person, index date) rows with any feature changed
(target: 0) and the features that changed. ``--people 3000 --seed 7`` is the test suite's world.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("FALLS_RISK_SECRET", "bench-secret-not-for-real-use-0123")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests/ holds the oracle

from falls_risk.catalog import INGESTED, POPULATION, TRUTH_RECORD_PERSON


def ensure_linked_world(world: Path, people: int, seed: int) -> Path:
    from falls_risk.ingest import run_ingest
    from falls_risk.linkage import run_linkage
    from falls_risk.synth import generate_world

    if not TRUTH_RECORD_PERSON.exists(world / "truth"):
        print(f"generating a {people:,}-person world in {world} ...", flush=True)
        generate_world(world, people=people, seed=seed, start=date(2019, 1, 1), end=date(2025, 12, 31),
                       progress=False)
    ws = world / "ws"
    if not INGESTED.exists(ws, source="population"):
        run_ingest(world / "extract", ws, progress=False)
    if not POPULATION.exists(ws):
        run_linkage(ws, progress=False)
    return ws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--world", type=Path, default=None, help="World folder to build or reuse.")
    parser.add_argument("--index-dates", default="2021-01-01:2024-10-01:quarterly")
    parser.add_argument("--lag", action="append", default=[], help="SOURCE=DAYS arrival lag (repeat).")
    args = parser.parse_args()

    from falls_risk.config import FeatureConfig
    from falls_risk.features import parse_index_dates
    from tests.features.truncation import load_linked, truncation_differences

    world = args.world or Path(tempfile.gettempdir()) / f"falls-risk-bench-world-{args.people}-{args.seed}"
    ws = ensure_linked_world(world, args.people, args.seed)
    lags = {s: int(d) for s, d in (item.split("=", 1) for item in args.lag)}
    config = FeatureConfig(arrival_lag_days=lags)
    dates = parse_index_dates(args.index_dates)
    sources, population = load_linked(ws)
    started = time.perf_counter()
    full, diffs = truncation_differences(sources, population, dates, config)
    seconds = time.perf_counter() - started
    changed = diffs[["person_key", "index_date"]].drop_duplicates()
    print(f"world: {world} ({args.people:,} people, seed {args.seed}); lags: {lags or 'none'}")
    print(f"index dates: {len(dates)} ({dates[0]} .. {dates[-1]}); feature rows compared: {len(full):,}")
    print(f"rows with any feature changed by truncation: {len(changed):,} "
          f"({100 * len(changed) / max(1, len(full)):.2f}%)  [{seconds:.1f} s]")
    if len(diffs):
        print(diffs.groupby("feature").size().sort_values(ascending=False).rename("rows").to_string())
    return 0 if diffs.empty else 1


if __name__ == "__main__":
    sys.exit(main())
