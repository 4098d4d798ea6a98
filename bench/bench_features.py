"""Benchmark: point-in-time features for the whole of Wales aged 65+ (700,000 people).

Builds a linked workspace directly at that scale (vectorised numpy writing WS/linked/*.parquet in
the architecture's format, with event volumes per person like the synthetic world's: ~57
prescription issues, ~17 GP codes, ~1 inpatient spell, ~1.3 ED attendances ... over 2019-2025),
then times, each phase in its own process so its peak RSS is its own:

- ``events``:  WS/events/events.parquet from the linked tables (DuckDB);
- ``one``:     compute_features at one index date (DuckDB SQL);
- ``monthly``: compute_features at N monthly index dates (48 = 2021-01 .. 2024-12; a smaller N
               is scaled up to 48 and reported as an estimate);
- ``pandas``:  the same features at the same one index date with plain pandas group-bys
               (``falls_risk.features.pandas_reference``), for the speed-up ratio.

Usage::

    .venv/bin/python bench/bench_features.py --people 700000 --workspace /tmp/bench_ws [--monthly-dates 48]

Targets (issue 4): one index date < 60 s and < 8 GB on 2 cores; 48 monthly dates < 15 minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests/ holds the pandas reference

from falls_risk import catalog
from falls_risk.features.registry import WELSH_LOCAL_AUTHORITIES
from falls_risk.ingest.summary import IngestSummary

ONE_DATE = date(2024, 1, 1)
START = np.datetime64("2019-01-01")
END = np.datetime64("2025-12-31")
SPAN = int((END - START).astype(int))
WELSH_LAS = WELSH_LOCAL_AUTHORITIES
BNF = (
    "0401010Z0AAAAAA",
    "0401020K0AAAHAH",
    "0402010D0AAAEAE",
    "0403010B0AAAGAG",
    "0403030Q0AAAAAA",
    "0408010G0AAABAB",
    "040702040AAAAAA",
    "0205051R0AAAAAA",
    "0205052C0AAAAAA",
    "0202010B0AAABAB",
    "0202020L0AAAAAA",
    "0601023A0AAAAAA",
    "0601011P0AAAAAA",
    "0212000B0AAABAB",
    "0209000A0AAAAAA",
    "0103050P0AAAAAA",
    "0407010H0AAAMAM",
    "0602010V0AAABAB",
    "1001010P0AAADAD",
    "0301011R0AAAPAP",
    "0206020A0AAAAAA",
    "0204000H0AAAAAA",
    "0603020T0AAACAC",
    "0906040G0AAAAAA",
    "1202010U0AAAAAA",
    "0101010G0AAABAB",
    "0304010G0AAAAAA",
    "0702010G0AAAAAA",
    "1108010K0AAAAAA",
    "0208020V0AAABAB",
)
SNOMED = (
    "52448006",
    "26929004",
    "49049000",
    "230690007",
    "64859006",
    "44054006",
    "165232002",
    "35489007",
    "397540003",
    "49436004",
    "84114007",
    "38341003",
    "28651003",
    "248279007",
    "1912002",
    "5913000",
    "271737000",
    "386661006",
    "25064002",
    "162397003",
    "267036007",
    "22253000",
    "68566005",
    "195967001",
    "73211009",
    "713197008",
    "185345009",
    "183452005",
    "390906007",
    "410429000",
)
ICD10 = (
    "J189",
    "I500",
    "N390",
    "R296",
    "S720",
    "S721",
    "W010",
    "W190",
    "W180",
    "I639",
    "F03",
    "E119",
    "I10",
    "I48",
    "R54",
    "K590",
    "A419",
    "J440",
    "I214",
    "R55",
)


def _keys(n: int, rng: np.random.Generator) -> pa.Array:
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    return pa.array([f"{a:016x}{b:016x}" for a, b in raw.tolist()], pa.string())


def _days(values: np.ndarray) -> pa.Array:
    return pa.array((START + values.astype("timedelta64[D]")).astype("datetime64[D]"))


def _dict(indices: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), values)


def _per_person(rng: np.random.Generator, n: int, mean: float, frailty: np.ndarray) -> np.ndarray:
    """Person index of each event: Poisson counts scaled by a gamma frailty."""
    counts = rng.poisson(mean * frailty)
    return np.repeat(np.arange(n, dtype=np.int32), counts)


def _linked_columns(rng: np.random.Generator, people: np.ndarray, keys: pa.Array, nhs_share: float) -> dict:
    m = len(people)
    via_nhs = rng.random(m) < nhs_share
    prob = np.where(via_nhs, 1.0, rng.uniform(0.95, 1.0, m))
    return {
        "person_key": _dict(people, keys),
        "match_probability": pa.array(prob),
        "link_method": pa.array(np.where(via_nhs, "nhs_number", "probabilistic")),
        "unlinked_reason": pa.nulls(m, pa.string()),
        "row_number": pa.array(np.arange(1, m + 1, dtype=np.int64)),
    }


def generate(ws: Path, people: int, seed: int = 1) -> dict:
    """Write the linked sources and an ingest summary for ~``people`` 65+ at 2024-01-01."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    catalog.POPULATION.path(ws).parent.mkdir(parents=True, exist_ok=True)
    n = int(people / 0.9)  # some die or register later; the cohort at 2024-01-01 is ~people
    keys = _keys(n, rng)
    frailty = rng.gamma(2.0, 0.5, n)
    birth = rng.integers(1924 * 12, 1958 * 12 + 12, n)
    death = np.where(rng.random(n) < 0.12, rng.integers(0, SPAN, n), -1)
    registration = np.where(rng.random(n) < 0.02, rng.integers(0, SPAN, n), rng.integers(-15000, 0, n))
    household = np.arange(n)
    pairs = rng.permutation(n)[: int(n * 0.5)]
    household[pairs[1::2]] = household[pairs[0::2][: len(pairs[1::2])]]
    rank = rng.integers(1, 1910, n)
    population = pa.table(
        {
            "person_key": keys,
            "sex": pa.array(np.where(rng.random(n) < 0.55, "F", "M")),
            "birth_month": pa.array([f"{b // 12}-{b % 12 + 1:02d}" for b in birth.tolist()]),
            "lsoa_code": pa.array([f"W0100{r:04d}" for r in rank.tolist()]),
            "wimd_rank": pa.array(rank.astype(np.int32)),
            "local_authority": _dict(rng.integers(0, len(WELSH_LAS), n), pa.array(WELSH_LAS)).cast(
                pa.string()
            ),
            "registration_date": _days(registration),
            "deregistration_date": pa.nulls(n, pa.date32()),
            "date_of_death": pa.array(
                np.where(death >= 0, START + death.astype("timedelta64[D]"), np.datetime64("NaT")).astype(
                    "datetime64[D]"
                )
            ),
            "household_key": pa.array([f"h{h:09d}" for h in household.tolist()]),
        }
    )
    pq.write_table(population, catalog.POPULATION.path(ws))
    rows = {"population": n}

    def write(source: str, columns: dict) -> None:
        table = pa.table(columns)
        pq.write_table(table, catalog.LINKED.path(ws, source=source), row_group_size=2_000_000)
        rows[source] = rows.get(source, 0) + table.num_rows

    # Prescriptions (the bulk): in chunks to bound memory.
    writer = None
    for chunk in range(4):
        lo, hi = chunk * n // 4, (chunk + 1) * n // 4
        who = _per_person(rng, hi - lo, 57.0, frailty[lo:hi]) + lo
        columns = {
            "issue_date": _days(rng.integers(0, SPAN, len(who))),
            "bnf_code": _dict(rng.integers(0, len(BNF), len(who)), pa.array(BNF)).cast(pa.string()),
            "drug_name": pa.nulls(len(who), pa.string()),
            **_linked_columns(rng, who, keys, 0.99),
        }
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(catalog.LINKED.path(ws, source="prescriptions"), table.schema)
        writer.write_table(table, row_group_size=2_000_000)
        rows["prescriptions"] = rows.get("prescriptions", 0) + table.num_rows
    writer.close()

    who = _per_person(rng, n, 17.0, frailty)
    write(
        "gp_events",
        {
            "event_date": _days(rng.integers(0, SPAN, len(who))),
            "snomed_code": _dict(rng.integers(0, len(SNOMED), len(who)), pa.array(SNOMED)).cast(pa.string()),
            **_linked_columns(rng, who, keys, 0.99),
        },
    )
    who = _per_person(rng, n, 0.9, frailty)
    m = len(who)
    admit = rng.integers(0, SPAN, m)
    diag = [";".join(rng.choice(ICD10, size=k, replace=False)) for k in rng.integers(1, 4, m).tolist()]
    write(
        "inpatient_spells",
        {
            "spell_id": pa.array([f"S{i}" for i in range(m)]),
            "admission_date": _days(admit),
            "discharge_date": _days(admit + rng.geometric(0.15, m)),
            "admission_method": pa.array(
                rng.choice(["emergency", "elective", "other"], m, p=[0.7, 0.25, 0.05])
            ),
            "diagnoses": pa.array(diag),
            **_linked_columns(rng, who, keys, 0.95),
        },
    )
    who = _per_person(rng, n, 1.3, frailty)
    m = len(who)
    write(
        "ed_attendances",
        {
            "attendance_id": pa.array([f"A{i}" for i in range(m)]),
            "arrival_time": pa.array(
                START.astype("datetime64[s]") + rng.integers(0, SPAN * 86400, m).astype("timedelta64[s]")
            ),
            "arrival_mode": pa.array(rng.choice(["ambulance", "self", "other"], m)),
            "presenting_complaint": pa.array(
                rng.choice(["fall", "injury", "breathing", "chest_pain", "confusion", "other"], m)
            ),
            "disposal": pa.array(rng.choice(["admitted", "discharged"], m)),
            **_linked_columns(rng, who, keys, 0.9),
        },
    )
    who = _per_person(rng, n, 0.7, frailty)
    m = len(who)
    write(
        "ambulance_calls",
        {
            "call_id": pa.array([f"C{i}" for i in range(m)]),
            "call_time": pa.array(
                START.astype("datetime64[s]") + rng.integers(0, SPAN * 86400, m).astype("timedelta64[s]")
            ),
            "chief_complaint": pa.array(
                rng.choice(["fall", "breathing", "chest_pain", "unconscious", "other"], m)
            ),
            "conveyed": pa.array(rng.random(m) < 0.6),
            **_linked_columns(rng, who, keys, 0.8),
        },
    )
    who = _per_person(rng, n, 0.26, frailty)
    m = len(who)
    start = rng.integers(0, SPAN, m)
    write(
        "social_care",
        {
            "record_id": pa.array([f"R{i}" for i in range(m)]),
            "service_type": pa.array(
                rng.choice(["assessment", "home_care", "reablement", "telecare", "day_care"], m)
            ),
            "start_date": _days(start),
            "end_date": pa.array(
                np.where(
                    rng.random(m) < 0.5,
                    START + (start + rng.integers(1, 700, m)).astype("timedelta64[D]"),
                    np.datetime64("NaT"),
                ).astype("datetime64[D]")
            ),
            "weekly_hours": pa.array(np.round(rng.uniform(1, 20, m), 1)),
            **_linked_columns(rng, who, keys, 0.0),
        },
    )
    who = _per_person(rng, n, 0.3, frailty)
    m = len(who)
    write(
        "police_incidents",
        {
            "incident_id": pa.array([f"I{i}" for i in range(m)]),
            "incident_date": _days(rng.integers(0, SPAN, m)),
            "person_role": pa.array(rng.choice(["victim", "subject_of_concern", "witness"], m)),
            "incident_type": pa.array(
                rng.choice(["concern_for_welfare", "fraud_scam", "theft_burglary", "other"], m)
            ),
            **_linked_columns(rng, who, keys, 0.0),
        },
    )
    who = _per_person(rng, n, 0.06, frailty)
    m = len(who)
    applied = rng.integers(0, SPAN, m)
    write(
        "housing_adaptations",
        {
            "application_id": pa.array([f"H{i}" for i in range(m)]),
            "adaptation_type": pa.array(
                rng.choice(["stairlift", "grab_rails", "level_access_shower", "ramp"], m)
            ),
            "application_date": _days(applied),
            "completed_date": pa.array(
                np.where(
                    rng.random(m) < 0.7,
                    START + (applied + rng.integers(10, 300, m)).astype("timedelta64[D]"),
                    np.datetime64("NaT"),
                ).astype("datetime64[D]")
            ),
            **_linked_columns(rng, who, keys, 0.0),
        },
    )
    IngestSummary(extract_dir="bench", workspace=str(ws), extract_date=date(2025, 12, 31),
                  extract_date_source="given", mapping=None, sources={}, absent_sources=[], ignored_files=[]).write(ws)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def _monthly(k: int) -> list[date]:
    from falls_risk.features import parse_index_dates

    return parse_index_dates("2021-01-01:2024-12-01:monthly")[:k]


def run_phase(phase: str, ws: Path, monthly_dates: int, max_rows_per_query: int | None = None) -> dict:
    from falls_risk.config import FeatureConfig
    from falls_risk.events import build_events
    from falls_risk.features import build_features, compute_features

    config = FeatureConfig() if max_rows_per_query is None else FeatureConfig(max_rows_per_query=max_rows_per_query)
    started = time.perf_counter()
    result: dict = {"phase": phase}
    if phase == "events":
        path = build_events(ws, config)
        result["events"] = pq.ParquetFile(path).metadata.num_rows
    elif phase == "one":
        table = compute_features(ws, [ONE_DATE], config=config)
        result["rows"] = len(table)
        result["labels_positive"] = int(table["label"].sum())
    elif phase == "monthly":
        # What `falls-risk features --index-dates 2021-01-01:2024-12-01:monthly` does: events, then
        # features written partition by partition (includes rebuilding the events table).
        summary = build_features(ws, _monthly(monthly_dates), config=config, progress=False)
        result["rows"] = summary["rows"]
        result["index_dates"] = monthly_dates
        result["seconds_events"] = summary["seconds_events"]
    elif phase == "pandas":

        from falls_risk.features.compute import label_known_until
        from falls_risk.workspace import Workspace
        from tests.features.pandas_reference import events_frame, pandas_features

        events = events_frame(catalog.EVENTS.load_arrow(ws))
        population = catalog.POPULATION.load(ws)
        loaded = time.perf_counter()
        table = pandas_features(
            events, population, ONE_DATE, config, label_known_until=label_known_until(Workspace(ws), config)
        )
        result["rows"] = len(table)
        result["seconds_load"] = round(loaded - started, 1)
        result["seconds_compute"] = round(time.perf_counter() - loaded, 1)
    else:
        raise SystemExit(f"unknown phase {phase}")
    result["seconds"] = round(time.perf_counter() - started, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds (all threads) are robust to other work sharing the machine; wall seconds are not.
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    result["peak_rss_gb"] = round(usage.ru_maxrss / 1024**2, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=700_000)
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/falls_risk_bench_ws"))
    parser.add_argument("--monthly-dates", type=int, default=48)
    parser.add_argument("--phases", default="generate,events,one,monthly,pandas")
    parser.add_argument("--max-rows-per-query", type=int, default=None,
                        help="people x index dates per DuckDB query (default: FeatureConfig's)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.workspace, args.monthly_dates, args.max_rows_per_query)))
        return
    results = {}
    for phase in args.phases.split(","):
        if phase == "generate":
            results["generate"] = generate(args.workspace, args.people)
        else:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--phase",
                    phase,
                    "--workspace",
                    str(args.workspace),
                    "--monthly-dates",
                    str(args.monthly_dates),
                    *(["--max-rows-per-query", str(args.max_rows_per_query)] if args.max_rows_per_query else []),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps({phase: results[phase]}), flush=True)
    if "monthly" in results:
        per_date = results["monthly"]["seconds"] / args.monthly_dates
        results["monthly_48_seconds" + ("" if args.monthly_dates == 48 else "_estimated")] = round(
            per_date * 48, 1
        )
    if "one" in results and "pandas" in results:
        results["speedup_pandas_over_sql_one_date"] = round(
            results["pandas"]["seconds_compute"] / results["one"]["seconds"], 1
        )
    results["load_average_at_start"] = load
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
