"""``generate_world``: simulate the region and write ``DIR/extract`` and ``DIR/truth``.

``DIR/extract/<source>.csv|parquet`` holds every source of the contract (CSV, except gp_events
and prescriptions as Parquet, so both readers are exercised). ``DIR/truth/`` is for evaluation
only and is never read by the pipeline: ``record_person``, ``people``, ``fall_admissions`` and
``monthly_hazard`` (see docs/architecture.md). Both folders are written atomically.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from falls_risk import contract
from falls_risk.catalog import TRUTH_FALL_ADMISSIONS, TRUTH_MONTHLY_HAZARD, TRUTH_PEOPLE, TRUTH_RECORD_PERSON
from falls_risk.errors import FallsRiskError, parameter_error
from falls_risk.progress import console, progress_bar
from falls_risk.synth import dirt, records
from falls_risk.synth.geography import build_geography
from falls_risk.synth.people import PERSON_KINDS, People, build_people, make_twins
from falls_risk.synth.reference import CONDITIONS, LOCAL_AUTHORITIES
from falls_risk.synth.simulate import NEVER, World, simulate
from falls_risk.workspace import atomic_path

PARQUET_SOURCES = ("gp_events", "prescriptions")
# Genuinely bad rows (an unparseable date, a duplicated record id), per row; kept rare.
BAD_DATE_RATE = 0.0003
DUPLICATE_ID_RATE = 0.0002
_BAD_DATES = ("2021-02-30", "31/13/2020", "unknown", "2022-00-10", "20X1-05-04")


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _check_arguments(out: Path, people: int, start: date, end: date) -> None:
    if not isinstance(people, (int, np.integer)) or isinstance(people, bool) or people < 10:
        raise parameter_error("people", "an integer of at least 10", people)
    if not isinstance(start, date) or not isinstance(end, date):
        raise parameter_error("start/end", "dates (YYYY-MM-DD)", (start, end))
    if (end - start).days < 28:
        raise FallsRiskError(
            f"Invalid period {start}..{end}: the end date must be at least a month after the start date. "
            "Pass --start and --end so that end > start."
        )
    if out.exists() and not out.is_dir():
        raise FallsRiskError(f"{out} exists and is not a folder. Choose another --out.")


def _inject_bad_rows(
    rng: np.random.Generator, rec: records.SourceRecords, protect: np.ndarray | None = None
) -> dict[str, int]:
    """A few rows with an unparseable date, a few with another row's record id."""
    src = contract.SOURCES[rec.name]
    frame = rec.frame
    n = len(frame)
    allowed = np.arange(n) if protect is None else np.flatnonzero(~protect)
    counts = {"bad_date": 0, "duplicate_id": 0}
    if n >= 1500 and len(allowed) > 2 and src.event_date_column:
        k = max(1, round(n * BAD_DATE_RATE))
        rows = rng.choice(allowed, min(k, len(allowed)), replace=False)
        col = frame.columns.get_loc(src.event_date_column)
        for r in rows:
            frame.iat[r, col] = _BAD_DATES[int(rng.integers(0, len(_BAD_DATES)))]
        counts["bad_date"] = len(rows)
    if n >= 2000 and len(allowed) > 2 and src.id_column and src.id_unique:
        k = max(1, round(n * DUPLICATE_ID_RATE))
        col = frame.columns.get_loc(src.id_column)
        for _ in range(k):
            a, b = rng.choice(allowed, 2, replace=False)
            frame.iat[b, col] = frame.iat[a, col]
        counts["duplicate_id"] = k
    return counts


def _nhs_column(rng: np.random.Generator, world: World, person: np.ndarray, source: str) -> pa.Array:
    """NHS numbers for a large source, built in Arrow: clean numbers with a little dirt."""
    p = world.people
    prof = dirt.PROFILES[source]
    clean = p.nhs_text
    idx = person.astype(np.int64).copy()
    dirty_rows = np.flatnonzero(rng.random(len(person)) < prof.nhs_spaces + prof.nhs_miskeyed)
    variants = dirt.nhs_numbers(
        rng,
        p.nhs[person[dirty_rows]],
        p.nhs[person[dirty_rows]],
        dirt.DirtProfile(
            nhs_spaces=prof.nhs_spaces / max(prof.nhs_spaces + prof.nhs_miskeyed, 1e-9),
            nhs_miskeyed=prof.nhs_miskeyed / max(prof.nhs_spaces + prof.nhs_miskeyed, 1e-9),
        ),
    )
    idx[dirty_rows] = len(clean) + np.arange(len(dirty_rows))
    dictionary = pa.array(np.concatenate([clean, variants]), type=pa.string())
    return pc.take(dictionary, pa.array(idx))


def _gp_table(rng: np.random.Generator, world: World, cal: records.Calendar) -> tuple[pa.Table, np.ndarray]:
    person, day, code = records.build_gp_events(rng, world, cal)
    table = pa.table(
        {
            "nhs_number": _nhs_column(rng, world, person, "gp_events"),
            "event_date": pa.array(day.astype("datetime64[D]")),
            "snomed_code": pa.array(code, type=pa.string()),
        }
    )
    return table, person


def _rx_table(rng: np.random.Generator, world: World, cal: records.Calendar) -> tuple[pa.Table, np.ndarray]:
    person, day, codes, names, product = records.build_prescriptions(rng, world, cal)
    # Most systems export the full 15-character code, some only the chemical substance.
    n_cat = len(codes)
    full = np.array(
        [c + "AA" + "ABABA"[: 4 - (i % 2)] + ("A" if i % 2 else "") for i, c in enumerate(codes)],
        dtype=object,
    )
    lower = np.array([c.lower() for c in codes], dtype=object)
    variant = np.where(rng.random(len(person)) < 0.6, 1, 0)
    variant[rng.random(len(person)) < dirt.PROFILES["prescriptions"].code_case] = 2
    code_dict = pa.array(np.concatenate([codes, full, lower]), type=pa.string())
    table = pa.table(
        {
            "nhs_number": _nhs_column(rng, world, person, "prescriptions"),
            "issue_date": pa.array(day.astype("datetime64[D]")),
            "bnf_code": pc.take(code_dict, pa.array(product + variant * n_cat)),
            "drug_name": pc.take(pa.array(names, type=pa.string()), pa.array(product)),
        }
    )
    return table, person


def _record_person_table(name: str, person: np.ndarray, record_id: Any, folk: People) -> pa.Table:
    """Who each row is about, and what kind of person that is (for ``link-eval``'s false links
    by kind): in the spine or not, spine / relative / outsider, son or daughter, a twin."""
    n = len(person)
    idx = pa.array(person.astype(np.int64))
    kinds = np.array(PERSON_KINDS, dtype=object)[folk.kind]
    twin_nhs = np.where(folk.twin >= 0, folk.nhs[np.maximum(folk.twin, 0)].astype(str), None).astype(object)
    return pa.table(
        {
            "source": pc.take(pa.array([name]), pa.array(np.zeros(n, dtype=np.int64))),
            "row_number": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "record_id": pa.nulls(n, pa.string())
            if record_id is None
            else pa.array(record_id, type=pa.string()),
            "nhs_number": pc.take(pa.array(folk.nhs_text, type=pa.string()), idx),
            "in_spine": pa.array(person < folk.n_spine),
            "person_kind": pc.take(pa.array(kinds, type=pa.string()), idx),
            "relationship": pc.take(pa.array(np.where(folk.relationship == "", None, folk.relationship), type=pa.string()), idx),
            "twin": pa.array(folk.twin[person] >= 0),
            "twin_nhs_number": pc.take(pa.array(twin_nhs, type=pa.string()), idx),
            "date_of_birth": pc.take(pa.array(folk.birth_date.astype("datetime64[D]")), idx),
        }
    )


def _date_or_null(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), mask=~valid)


def _people_table(world: World, cal: records.Calendar) -> pa.Table:
    p = world.people
    n, no = p.n, p.n_older
    in_spine = np.arange(n) < p.n_spine
    geo = world.geo
    lsoa0 = geo.address_lsoa(p.address0)
    la_names = np.array([la[0] for la in LOCAL_AUTHORITIES] + [None], dtype=object)

    def pad(values: np.ndarray, fill: Any) -> np.ndarray:
        out = np.full(n, fill, dtype=values.dtype if fill is not None else object)
        out[:no] = values
        return out

    # Each person's last address in the period (where the population file places them).
    older = np.arange(no)
    last_month = np.minimum(np.minimum(cal.death_month[:no], cal.dereg_month[:no]), world.n_months - 1)
    last_addr = p.address0.copy()
    last_addr[:no] = world.address_at(older, last_month)
    cols: dict[str, pa.Array] = {
        "nhs_number": pa.array(p.nhs_text, type=pa.string()),
        "in_spine": pa.array(in_spine),
        "person_kind": pa.array(np.array(PERSON_KINDS, dtype=object)[p.kind], type=pa.string()),
        "relationship": pa.array(np.where(p.relationship == "", None, p.relationship), type=pa.string()),
        "relative_of_nhs_number": pa.array(
            np.where(p.relative_of >= 0, p.nhs[np.maximum(p.relative_of, 0)].astype(str), None), type=pa.string()
        ),
        "twin_nhs_number": pa.array(
            np.where(p.twin >= 0, p.nhs[np.maximum(p.twin, 0)].astype(str), None), type=pa.string()
        ),
        "forename": pa.array(p.forename, type=pa.string()),
        "surname": pa.array(p.surname, type=pa.string()),
        "previous_surname": pa.array(
            np.where(p.previous_surname == "", None, p.previous_surname), type=pa.string()
        ),
        "date_of_birth": pa.array(p.birth_date.astype("datetime64[D]")),
        "sex": pa.array(np.where(p.sex == 1, "F", "M"), type=pa.string()),
        "spouse_nhs_number": pa.array(
            np.where(p.spouse >= 0, p.nhs[np.maximum(p.spouse, 0)].astype(str), None), type=pa.string()
        ),
        "postcode": pa.array(geo.address_postcode(last_addr), type=pa.string()),
        "address_line": pa.array(geo.address_line(last_addr), type=pa.string()),
        "lsoa_code_start": pa.array(
            np.where(lsoa0 >= 0, geo.lsoa_code[np.maximum(lsoa0, 0)], None), type=pa.string()
        ),
        "local_authority_start": pa.array(
            la_names[np.where(lsoa0 >= 0, geo.lsoa_la[np.maximum(lsoa0, 0)], -1)], type=pa.string()
        ),
        "registration_date": _date_or_null(p.registration_date, in_spine),
        "deregistration_date": _date_or_null(cal.dereg_date, cal.dereg_month < world.n_months),
        "date_of_death": _date_or_null(cal.death_date, cal.death_month < world.n_months),
        "frailty_start": pa.array(pad(world.frailty_start, np.nan), mask=np.arange(n) >= no),
        "frailty_end": pa.array(pad(world.frailty_end, np.nan), mask=np.arange(n) >= no),
        "lives_alone_start": pa.array(pad(world.alone_start, False), mask=np.arange(n) >= no),
        "lives_alone_end": pa.array(pad(world.alone_end, False), mask=np.arange(n) >= no),
        "care_home_date": _date_or_null(
            cal.month_start[np.clip(pad(world.care_home_month, NEVER), 0, world.n_months - 1)],
            pad(world.care_home_month, NEVER) < world.n_months,
        ),
    }
    for c, cond in enumerate(CONDITIONS):
        for what, arr in (("onset", world.cond_onset[:, c]), ("coded", world.cond_diag[:, c])):
            m = pad(arr, NEVER)
            valid = m < world.n_months
            # Onsets before the period are dated to their month, which may precede the start.
            first = np.datetime64(cal.month_start[0], "M")
            days = (first + np.clip(m, -1200, world.n_months)).astype("datetime64[D]")
            cols[f"{what}_{cond.key}"] = _date_or_null(days, valid)
    return pa.table(cols)


def generate_world(
    out: Path,
    *,
    people: int,
    seed: int,
    start: date,
    end: date,
    progress: bool = True,
) -> dict[str, Any]:
    """Simulate ``people`` GP-registered older adults from ``start`` to ``end`` and write
    ``out/extract`` (the agency extracts) and ``out/truth`` (who is who, what happened).

    Deterministic for a seed. Returns a summary: rows per source and headline rates.
    """
    out = Path(out)
    _check_arguments(out, people, start, end)
    n_months = _months_between(start, end)
    # The 13th stream (twins) came later: the first twelve children of the seed are unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(13)]

    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("Building the region", total=2)
        geo = build_geography(streams[0])
        bar.advance(task)
        folk = build_people(streams[1], geo, int(people), start, n_months)
        bar.advance(task)
        sim_task = bar.add_task("Simulating months", total=n_months)
        world = simulate(streams[2], folk, geo, n_months, on_month=lambda: bar.advance(sim_task))
        make_twins(streams[12], folk)

        rec_task = bar.add_task("Drawing agency records", total=8)
        cal = records.Calendar(world, streams[3], start, end)
        ident = records.Identities(world, cal)
        csv_sources: list[records.SourceRecords] = []
        csv_sources.append(records.build_population(streams[4], world, cal, ident))
        bar.advance(rec_task)
        health = records.build_health(streams[5], world, cal, ident)
        csv_sources += [health.inpatient, health.ed, health.ambulance]
        bar.advance(rec_task)
        gp, gp_person = _gp_table(streams[6], world, cal)
        bar.advance(rec_task)
        rx, rx_person = _rx_table(streams[7], world, cal)
        bar.advance(rec_task)
        csv_sources.append(records.build_social_care(streams[8], world, cal, ident))
        bar.advance(rec_task)
        csv_sources.append(records.build_police(streams[9], world, cal, ident))
        bar.advance(rec_task)
        csv_sources.append(records.build_housing(streams[10], world, cal, ident))
        bar.advance(rec_task)
        bad: dict[str, dict[str, int]] = {}
        for rec in csv_sources:
            if rec.name == "population":
                continue
            bad[rec.name] = _inject_bad_rows(streams[11], rec, rec.fall_admission)
        bar.advance(rec_task)

        nhs_dict = pa.array(folk.nhs_text, type=pa.string())
        rp_tables = []
        for rec in csv_sources:
            id_col = contract.SOURCES[rec.name].id_column
            rp_tables.append(_record_person_table(rec.name, rec.person, rec.frame[id_col].to_numpy(), folk))
        rp_tables.append(_record_person_table("gp_events", gp_person, None, folk))
        rp_tables.append(_record_person_table("prescriptions", rx_person, None, folk))
        inpatient = health.inpatient
        falls = inpatient.fall_admission
        fall_table = pa.table(
            {
                "nhs_number": pc.take(nhs_dict, pa.array(inpatient.person[falls])),
                "spell_id": pa.array(inpatient.frame["spell_id"].to_numpy()[falls], type=pa.string()),
                "admission_date": pa.array(
                    pd.to_datetime(inpatient.frame["admission_date"][falls])
                    .to_numpy()
                    .astype("datetime64[D]")
                ),
                "hip_fracture": pa.array(inpatient.hip_fracture[falls]),
                "in_spine": pa.array(inpatient.person[falls] < folk.n_spine),
            }
        )
        hp, hm = np.nonzero(~np.isnan(world.hazard))
        hazard_table = pa.table(
            {
                "nhs_number": pc.take(nhs_dict, pa.array(hp.astype(np.int64))),
                "month": pa.array(cal.month_start[hm]),
                "hazard": pa.array(world.hazard[hp, hm].astype(np.float64)),
            }
        )
        people_table = _people_table(world, cal)
        write_task = bar.add_task("Writing extract and truth", total=len(contract.SOURCES) + 4)
        deprivation = records.build_deprivation(world)
        # Both folders are staged, then renamed together: a failed run leaves the earlier
        # extract and its truth in place, as a pair.
        with atomic_path(out / "extract") as extract, atomic_path(out / "truth") as truth:
            extract.mkdir(parents=True)
            for rec in csv_sources:
                rec.frame.to_csv(extract / f"{rec.name}.csv", index=False)
                bar.advance(write_task)
            deprivation.to_csv(extract / "deprivation.csv", index=False)
            pq.write_table(gp, extract / "gp_events.parquet")
            pq.write_table(rx, extract / "prescriptions.parquet")
            bar.advance(write_task, 3)
            truth.mkdir(parents=True)
            pq.write_table(pa.concat_tables(rp_tables), TRUTH_RECORD_PERSON.path(truth))
            pq.write_table(people_table, TRUTH_PEOPLE.path(truth))
            pq.write_table(fall_table, TRUTH_FALL_ADMISSIONS.path(truth))
            pq.write_table(hazard_table, TRUTH_MONTHLY_HAZARD.path(truth))
            bar.advance(write_task, 4)

    rows = {rec.name: len(rec.frame) for rec in csv_sources}
    if progress:
        console.print(
            f"Wrote {out / 'extract'} ({len(contract.SOURCES)} sources) and {out / 'truth'}: "
            f"{int(people):,} people, {int(falls.sum()):,} fall admissions, "
            f"{gp.num_rows + rx.num_rows:,} primary-care rows.",
            highlight=False,
        )
    rows.update(deprivation=len(deprivation), gp_events=gp.num_rows, prescriptions=rx.num_rows)
    return {
        "out": str(out),
        "seed": seed,
        "people": int(people),
        "people_outside_spine": int(folk.n - folk.n_spine),
        "months": n_months,
        "rows": rows,
        "bad_rows": bad,
        "fall_admissions": int(falls.sum()),
        "fall_admissions_in_spine": int((inpatient.person[falls] < folk.n_spine).sum()),
        "deaths": int((world.death_month[: folk.n_spine] < n_months).sum()),
        "monthly_hazard_rows": len(hp),
    }
