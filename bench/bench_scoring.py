"""Benchmark monthly scoring.

(a) 700,000 eligible people from a prepared feature table: a feature frame with the registry's
    columns is synthesised (``falls_risk.scoring.synthetic``), a calibrated LightGBM (300 trees)
    is trained on a 40,000-row sample, then ``score_people`` scores everyone, tiers the top 5%
    and computes SHAP reasons for them (35,000 people), and the drift table is computed.
    Target: under 3 minutes on 2 cores.
(b) The whole monthly command (``run_scoring``: ingest, linkage, events, features, scoring,
    changes, outputs) on a 70,000-person synthetic extract (``falls_risk.synth.generate_world``).
    The model: a LightGBM trained on a registry-shaped synthetic sample, logged and registered in a
    throw-away MLflow SQLite store and promoted to ``@champion``, so the run loads it by URI as in
    production. The first run trains the linkage model (as a training run would); the timed runs
    reuse it, as the monthly command does. Target: under 5 minutes.

Usage: ``.venv/bin/python bench/bench_scoring.py [--part a|b|both] [--repeats 3] [--people 700000]
[--world DIR]`` (``--world``: reuse a world made by ``falls-risk synth --people 70000 --out DIR``).
Results (medians) are printed and written to ``bench/results/scoring.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("FALLS_RISK_SECRET", "benchmark-secret-not-for-real-use")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests/ holds the synthetic feature table

RESULTS = Path(__file__).resolve().parent / "results" / "scoring.json"


def part_a(people: int, repeats: int) -> dict[str, object]:
    from falls_risk.features.registry import FEATURES
    from falls_risk.scoring import TierPolicy, score_people
    from falls_risk.scoring.drift import drift_table
    from tests.scoring.synthetic import synthetic_features, train_synthetic_model

    specs = tuple(FEATURES)
    t = time.perf_counter()
    model = train_synthetic_model(specs, n=40_000, seed=1, rounds=300)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    features, _ = synthetic_features(specs, people, seed=2)
    synth_s = time.perf_counter() - t
    times, score_times, drift_times, cpu_times = [], [], [], []
    flagged = explained = 0
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = score_people(model, features, TierPolicy(top_percent=5))
        t1 = time.perf_counter()
        drift = drift_table(model.reference_, features, probability=result.scores["probability"])
        t2 = time.perf_counter()
        times.append(t2 - t0)
        cpu_times.append(time.process_time() - c0)
        score_times.append(t1 - t0)
        drift_times.append(t2 - t1)
        flagged = int((result.scores["tier"] == "high").sum())
        explained = int(result.scores["explained"].sum())
        assert (result.flagged["reasons"].str.len() > 0).all()
        assert len(drift) == len(model.feature_names_) + 1
    return {
        "people": people,
        "features": len(model.feature_names_),
        "trees": model.booster_.num_trees(),
        "flagged": flagged,
        "explained": explained,
        "repeats": repeats,
        "median_seconds_total": round(statistics.median(times), 2),
        "median_seconds_score_and_explain": round(statistics.median(score_times), 2),
        "median_seconds_drift": round(statistics.median(drift_times), 2),
        "all_seconds_total": [round(x, 2) for x in times],
        # CPU seconds of this process (all threads): a load-independent figure on a shared machine.
        "median_cpu_seconds_total": round(statistics.median(cpu_times), 2),
        "load_average_after": os.getloadavg(),
        "setup_seconds_train_model": round(train_s, 1),
        "setup_seconds_synthesise_features": round(synth_s, 1),
        "target_seconds": 180,
    }


def _register_model(tmp: Path) -> str:
    from falls_risk import tracking
    from falls_risk.features.registry import FEATURES
    from tests.scoring.synthetic import synthetic_features, train_synthetic_model

    uri = tracking.configure(f"sqlite:///{tmp / 'mlflow.db'}")
    model = train_synthetic_model(tuple(FEATURES), n=40_000, seed=1, rounds=300)
    example, _ = synthetic_features(tuple(FEATURES), 5, seed=3)
    with tracking.start_run("bench-scoring", "bench-model"):
        info = tracking.log_model(model, example, register=True)
    tracking.set_alias(info["version"], "champion", reason="benchmark")
    return uri


def part_b(people: int, repeats: int, world: Path | None = None) -> dict[str, object]:
    from falls_risk.catalog import LINKAGE_MODEL, SCORING_WORK
    from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
    from falls_risk.synth import generate_world

    tmp = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    t = time.perf_counter()
    if world is not None:  # an existing world (e.g. `falls-risk synth --people 70000`), copied
        shutil.copytree(world / "extract", tmp / "world" / "extract")
    else:
        generate_world(tmp / "world", people=people, seed=5, start=date(2019, 1, 1), end=date(2025, 12, 31),
                       progress=False)
    world_s = time.perf_counter() - t
    tracking_uri = _register_model(tmp)
    extract = tmp / "world" / "extract"
    # First run: trains the linkage model (as training would) and keeps it for the timed runs.
    t = time.perf_counter()
    policy = TierPolicy(capacity=700)
    first = run_scoring(ScoringRequest(extract, date(2025, 11, 1), tmp / "runs" / "2025-11", policy,
                                       tracking_uri=tracking_uri, keep_work=True), progress=False)
    first_s = time.perf_counter() - t
    linkage_model = tmp / "linkage_model.json"
    LINKAGE_MODEL.path(SCORING_WORK.path(tmp / "runs", month="2025-11")).replace(linkage_model)
    times, stages, cpu_times = [], [], []
    for i in range(repeats):
        c = time.process_time()
        t = time.perf_counter()
        result = run_scoring(ScoringRequest(extract, date(2025, 12, 1), tmp / "runs" / "2025-12", policy,
                                            tracking_uri=tracking_uri, linkage_model=linkage_model), progress=False)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
        stages.append(result.manifest.timings_seconds)
    median_run = sorted(range(repeats), key=lambda i: times[i])[repeats // 2]
    return {
        "people_in_world": people,
        "eligible": result.manifest.row_counts["eligible"],
        "flagged": result.manifest.row_counts["flagged"],
        "risk_list_rows": result.manifest.row_counts["risk_list"],
        "alerts": result.manifest.row_counts["alerts"],
        "repeats": repeats,
        "median_seconds_total": round(statistics.median(times), 1),
        "all_seconds_total": [round(x, 1) for x in times],
        "median_cpu_seconds_total": round(statistics.median(cpu_times), 1),
        "load_average_after": os.getloadavg(),
        "stage_seconds_of_median_run": stages[median_run],
        "first_run_seconds_with_linkage_training": round(first_s, 1),
        "first_run_warnings": first.warnings,
        "setup_seconds_generate_world": round(world_s, 1),
        "workdir": str(tmp),
        "target_seconds": 300,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--people", type=int, default=700_000, help="people for part (a)")
    parser.add_argument("--world-people", type=int, default=70_000, help="people in the world for part (b)")
    parser.add_argument("--world", type=Path, default=None,
                        help="reuse this synthetic world (DIR with extract/) for part (b) instead of generating one")
    args = parser.parse_args()
    results: dict[str, object] = {"cpus": os.cpu_count()}
    if args.part in ("a", "both"):
        results["a_prepared_features"] = part_a(args.people, args.repeats)
        print(json.dumps(results["a_prepared_features"], indent=2), flush=True)
    if args.part in ("b", "both"):
        results["b_whole_command"] = part_b(args.world_people, args.repeats, args.world)
        print(json.dumps(results["b_whole_command"], indent=2, default=str), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
