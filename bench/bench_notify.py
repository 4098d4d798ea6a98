"""Benchmark `falls-risk notify`: one delivery of new records against a small and a Wales-sized spine.

    flock /work/locks/heavy .venv/bin/python bench/bench_notify.py --dir /tmp/bench_notify \\
        [--people 10000] [--spine 700000] [--records 5000] [--repeats 3]

Set-up (cached in DIR): a synthetic world of ``--people``, one real monthly run on it (a LightGBM
trained on the synthetic feature table of ``tests/scoring/synthetic.py``, so no MLflow training is
needed; its run trains the Splink model that notify then reuses), and a delivery of ``--records``
records cut from the world's latest days (``synth.deliveries.cut_delivery``). The same delivery is
then given twice: with the world's own spine, and with the spine grown to ``--spine`` people
(extra GP-registered people whose names, addresses and birth dates are drawn from the world's, with
new valid NHS numbers; they never appear in the delivery's records, as most of Wales would not on a
given day).

Each timed run is a fresh runs folder (no notification state), so every run ingests, links,
notifies and writes its outbox in full. Prints each run's stage seconds, the medians for both spine
sizes side by side with their ratio, and the precision and recall of the notified (person, event)
pairs against the world's truth (as in tests/notify).

Target (issue 15): 5,000 records against 700,000 people in under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("FALLS_RISK_SECRET", "bench-secret-not-for-real-use-0123")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.scoring.synthetic

import numpy as np
import pandas as pd

from falls_risk.catalog import TRUTH_RECORD_PERSON
from falls_risk.identity import check_digits, person_keys
from falls_risk.linkage.secret import load_secret

AS_OF = date(2025, 12, 1)
WORLD_END = date(2025, 12, 31)


def ensure_run(base: Path, people: int) -> tuple[Path, Path]:
    """The world, one monthly run on it, and the Splink model that run trained."""
    from falls_risk.features.registry import FEATURES
    from falls_risk.modelling.registered import RegisteredModel
    from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
    from falls_risk.synth import generate_world
    from tests.scoring.synthetic import train_synthetic_model

    world, runs, model = base / "world", base / "runs", base / "linkage_model.json"
    if not TRUTH_RECORD_PERSON.exists(world / "truth"):
        print(f"generating a {people:,}-person world ...", flush=True)
        generate_world(world, people=people, seed=3, start=date(2019, 1, 1), end=WORLD_END, progress=False)
    if not model.exists():
        print("one monthly run (trains the Splink model) ...", flush=True)
        shutil.rmtree(runs, ignore_errors=True)
        fitted = train_synthetic_model(tuple(FEATURES), n=6_000, seed=0, rounds=60)
        loaded = RegisteredModel(model=fitted, name="falls-risk", version="1", run_id="bench",
                                 uri="models:/falls-risk@champion")
        run_scoring(ScoringRequest(world / "extract", AS_OF, runs / "2025-12", TierPolicy(top_percent=10),
                                   keep_work=True), model=loaded, progress=False)
        shutil.copy(runs / ".work" / "2025-12" / "linkage" / "model.json", model)
        shutil.rmtree(runs / ".work" / "2025-12")
    return runs, model


def ensure_delivery(base: Path, records: int) -> Path:
    """The latest days of the world holding about ``records`` records (trimmed to exactly that)."""
    from falls_risk.synth.deliveries import cut_delivery

    out = base / f"delivery_{records}"
    if (out / "extract" / "population.csv").exists():
        return out
    days = 7
    while True:
        shutil.rmtree(out, ignore_errors=True)
        rows = cut_delivery(base / "world", out, WORLD_END - timedelta(days=days), WORLD_END + timedelta(days=1))
        total = sum(n for s, n in rows.items() if s != "population")
        if total >= records or days > 3000:
            break
        days = int(days * max(1.3, records / max(total, 1)))
    # Trim each source in proportion (its earliest rows go) to exactly ``records`` rows.
    extract = out / "extract"
    sources = {s: n for s, n in rows.items() if s != "population"}
    keep = {s: int(records * n / total) for s, n in sources.items()}
    keep[max(sources, key=sources.get)] += records - sum(keep.values())
    truth = TRUTH_RECORD_PERSON.load(out / "truth")
    parts = [truth[truth["source"] == "population"]]
    for source, n in keep.items():
        frame = pd.read_csv(extract / f"{source}.csv", dtype=str, keep_default_na=False)
        start = len(frame) - n
        frame.iloc[start:].to_csv(extract / f"{source}.csv", index=False)
        mine = truth[(truth["source"] == source) & (truth["row_number"] > start)].copy()
        mine["row_number"] -= start
        parts.append(mine)
    TRUTH_RECORD_PERSON.save(out / "truth", pd.concat(parts, ignore_index=True))
    print(f"delivery: {days} days, {records:,} records ({keep})", flush=True)
    return out


def grow_spine(delivery: Path, spine: int, seed: int = 0) -> Path:
    """The same delivery with its population grown to ``spine`` people."""
    out = delivery.with_name(delivery.name + f"_spine{spine}")
    if (out / "extract" / "population.csv").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(delivery, out)
    population = pd.read_csv(delivery / "extract" / "population.csv", dtype=str, keep_default_na=False)
    extra = spine - len(population)
    rng = np.random.default_rng(seed)
    taken = set(population["nhs_number"].str.replace(" ", "")) | set(
        TRUTH_RECORD_PERSON.load(delivery / "truth")["nhs_number"].dropna())
    numbers: list[str] = []
    while len(numbers) < extra:
        first = rng.integers(100_000_000, 999_999_999, size=extra * 2)
        digits = (first[:, None] // 10 ** np.arange(8, -1, -1)) % 10
        check = check_digits(digits)
        ok = (check >= 0) & (check <= 9)
        fresh = [f"{v:09d}{c}" for v, c in zip(first[ok], check[ok], strict=True)]
        numbers.extend(n for n in dict.fromkeys(fresh) if n not in taken)
    grown = pd.DataFrame({c: population[c].to_numpy()[rng.integers(0, len(population), extra)]
                          for c in population.columns})
    # Each extra person's identity mixes different people's fields: nobody is duplicated.
    grown["nhs_number"] = numbers[:extra]
    pd.concat([population, grown], ignore_index=True).to_csv(out / "extract" / "population.csv", index=False)
    return out


def quality(result_outbox: Path, delivery: Path) -> tuple[float, int]:
    """Precision: the share of notified (person, event) pairs naming the record's true person."""
    from tests.notify.test_end_to_end import _outbox_files, _pairs

    pairs = _pairs(_outbox_files(result_outbox))
    truth = TRUTH_RECORD_PERSON.load(delivery / "truth")[["source", "record_id", "nhs_number"]]
    pairs = pairs.merge(truth, on=["source", "record_id"], how="left")
    return float((pairs["notified_nhs"] == pairs["nhs_number"]).mean()), len(pairs)


def recall(result_outbox: Path, delivery: Path, runs: Path) -> tuple[float, int]:
    """Of the delivery's records that notify by the default rules (found with the pipeline's own
    events on the truth's person), the share notified to the right person."""
    from tests.notify.test_end_to_end import _alertable

    truth = TRUTH_RECORD_PERSON.load(delivery / "truth")[["source", "record_id", "nhs_number"]]
    should = _alertable(delivery / "extract").merge(truth, on=["source", "record_id"], how="inner")
    should = should[should["nhs_number"].notna()]
    should["person_key"] = person_keys(load_secret(), should["nhs_number"])
    scores = pd.read_parquet(runs / "2025-12" / "scores.parquet", columns=["person_key", "tier"])
    should = should.merge(scores, on="person_key")
    should = should[should["tier"].astype(str).isin(["high", "moderate"])]
    from tests.notify.test_end_to_end import _outbox_files, _pairs

    got = set(_pairs(_outbox_files(result_outbox)).itertuples(index=False, name=None))
    hits = [(r.source, r.record_id, r.nhs_number) in got for r in should.itertuples(index=False)]
    return float(np.mean(hits)) if hits else float("nan"), len(hits)


def timed(base: Path, runs: Path, model: Path, delivery: Path, label: str) -> dict[str, float]:
    from falls_risk.notify import NotifyConfig, NotifyRequest, run_notify

    fresh = base / "timed_runs"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(runs, fresh, ignore=shutil.ignore_patterns("notifications"))
    # The cap is lifted so that every candidate is written (the cap is a team's limit, not a cost).
    request = NotifyRequest(delivery / "extract", fresh, config=NotifyConfig(daily_cap=100_000), linkage_model=model)
    start = time.perf_counter()
    result = run_notify(request)
    seconds = time.perf_counter() - start
    precision, pairs = quality(request.outbox, delivery)
    rec, alertable = recall(request.outbox, delivery, fresh)
    stages = " ".join(f"{k} {v:.1f}" for k, v in result.seconds.items())
    print(f"{label}: {seconds:6.1f} s ({stages}); {result.absorbed.new_notifications:,} notifications, "
          f"precision {precision:.4f} of {pairs:,} pairs, recall {rec:.4f} of {alertable:,}", flush=True)
    return {"seconds": seconds, "precision": precision, "recall": rec, **result.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--spine", type=int, default=700_000)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--setup-only", action="store_true", help="Build the world, run and deliveries; time nothing.")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    runs, model = ensure_run(args.dir, args.people)
    small = ensure_delivery(args.dir, args.records)
    big = grow_spine(small, args.spine)
    if args.setup_only:
        return
    results: dict[str, list[dict[str, float]]] = {"world spine": [], f"{args.spine:,} spine": []}
    for _ in range(args.repeats):
        results["world spine"].append(timed(args.dir, runs, model, small, f"{args.people:,}-person spine"))
        results[f"{args.spine:,} spine"].append(timed(args.dir, runs, model, big, f"{args.spine:,}-person spine"))
    medians = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    small_s, big_s = medians.values()
    print(f"median seconds, {args.records:,} records: {args.people:,}-person spine {small_s:.1f}, "
          f"{args.spine:,}-person spine {big_s:.1f} (ratio {big_s / small_s:.2f}; spine {args.spine / args.people:.0f}x)")


if __name__ == "__main__":
    main()
