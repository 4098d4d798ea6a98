"""Identifier dirt is present at plausible rates, as the contract describes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from falls_risk.synth.reference import name_tables


def _csv(world_dir: Path, source: str) -> pd.DataFrame:
    return pd.read_csv(world_dir / "extract" / f"{source}.csv", dtype=str, keep_default_na=False)


def _truth(world_dir: Path, source: str) -> pd.DataFrame:
    rp = pd.read_parquet(world_dir / "truth" / "record_person.parquet")
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    rows = rp[rp["source"] == source].sort_values("row_number")
    # record_person carries the person's kind and true birth date itself.
    return rows.merge(people.drop(columns=[c for c in rows.columns if c in people and c != "nhs_number"]),
                      on="nhs_number", how="left")


def _valid_nhs(value: str) -> bool:
    digits = value.replace(" ", "")
    if not re.fullmatch(r"\d{10}", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check == int(digits[9])


@pytest.fixture(scope="module")
def ed(world_dir):
    return _csv(world_dir, "ed_attendances"), _truth(world_dir, "ed_attendances")


def test_health_nhs_numbers_are_sometimes_missing_spaced_miskeyed_or_wrong(ed):
    frame, truth = ed
    nhs = frame["nhs_number"]
    missing = (nhs == "").mean()
    spaced = nhs.str.contains(" ").mean()
    present = nhs[nhs != ""]
    invalid = (~present.map(_valid_nhs)).mean()
    assert 0.04 < missing < 0.15
    assert 0.05 < spaced < 0.2
    assert invalid < 0.03
    # A valid number that belongs to someone else is rare but real.
    given = nhs.str.replace(" ", "").to_numpy()
    wrong = (
        (given != "")
        & np.array([_valid_nhs(v) if v else False for v in given])
        & (given != truth["nhs_number"].to_numpy())
    )
    assert wrong.mean() < 0.01


def test_ambulance_nhs_numbers_are_often_missing(world_dir):
    amb = _csv(world_dir, "ambulance_calls")
    assert 0.2 < (amb["nhs_number"] == "").mean() < 0.5


def test_names_carry_nicknames_typos_case_and_previous_surnames(world_dir):
    police = _csv(world_dir, "police_incidents")
    truth = _truth(world_dir, "police_incidents")
    given_fn = police["forename"].str.lower().to_numpy()
    true_fn = truth["forename"].str.lower().to_numpy()
    differs = given_fn != true_fn
    assert 0.08 < differs.mean() < 0.45
    nicknames = {(k.lower(), v.lower()) for k, vs in name_tables().nicknames.items() for v in vs}
    nick = np.array([(t, g) in nicknames for t, g in zip(true_fn, given_fn)])
    assert nick.mean() > 0.05
    upper = (police["surname"] == police["surname"].str.upper()).mean()
    assert upper > 0.1
    prev = truth["previous_surname"].fillna("").str.lower().to_numpy()
    used_previous = (police["surname"].str.lower().to_numpy() == prev) & (prev != "")
    assert used_previous.sum() >= 1


def test_dates_of_birth_are_sometimes_missing_or_swapped(world_dir):
    police = _csv(world_dir, "police_incidents")
    truth = _truth(world_dir, "police_incidents")
    missing = (police["date_of_birth"] == "").mean()
    assert 0.08 < missing < 0.25
    true_dob = truth["date_of_birth"].astype(str).to_numpy()
    given = police["date_of_birth"].to_numpy()
    present = given != ""
    assert 0.005 < (given[present] != true_dob[present]).mean() < 0.1
    swapped = [g for g, t in zip(given, true_dob) if g and g != t and g[:4] == t[:4] and g[5:7] == t[8:10]]
    assert swapped


def test_postcodes_are_unspaced_lower_case_or_stale(world_dir):
    amb = _csv(world_dir, "ambulance_calls")
    pc = amb["postcode"][amb["postcode"] != ""]
    assert 0.05 < (~pc.str.contains(" ")).mean() < 0.4
    assert (pc == pc.str.lower()).mean() > 0.02
    # After a move some agencies still hold the old postcode: the record's postcode is then
    # not the population file's (latest) one.
    pop = _csv(world_dir, "population").set_index("nhs_number")["postcode"]
    truth = _truth(world_dir, "social_care")
    sc = _csv(world_dir, "social_care")
    norm = sc["postcode"].str.upper().str.replace(" ", "")
    current = truth["nhs_number"].map(pop).fillna("").str.upper().str.replace(" ", "").to_numpy()
    in_spine = truth["in_spine"].to_numpy() & (norm.to_numpy() != "")
    assert ((norm.to_numpy() != current) & in_spine).sum() >= 1


def test_codes_datetimes_and_icd10_come_in_mixed_forms(world_dir):
    ed = _csv(world_dir, "ed_attendances")
    assert ed["arrival_time"].str.contains("T").any() and ed["arrival_time"].str.contains(" ").any()
    assert (ed["arrival_mode"] != ed["arrival_mode"].str.lower()).any()
    ip = _csv(world_dir, "inpatient_spells")
    assert ip["diagnoses"].str.contains(r"\.").any()
    assert ip["diagnoses"].str.contains(r"^[A-Za-z]\d{3}", regex=True).any()


def test_welsh_surnames_are_very_common(world_dir):
    pop = _csv(world_dir, "population")
    top = pop["surname"].str.title().value_counts(normalize=True)
    assert top.index[0] == "Jones"
    assert top[["Jones", "Williams", "Davies", "Evans", "Thomas"]].sum() > 0.15
    assert pop["forename"].str.contains("Siân").any() or pop["forename"].str.contains("â").any()


def test_bad_rows_are_rare(world_dir):
    for source, col, id_col in (
        ("ed_attendances", "arrival_time", "attendance_id"),
        ("ambulance_calls", "call_time", "call_id"),
        ("social_care", "start_date", "record_id"),
        ("inpatient_spells", "admission_date", "spell_id"),
    ):
        frame = _csv(world_dir, source)
        parsed = pd.to_datetime(frame[col].str.replace(" ", "T"), errors="coerce", format="ISO8601")
        bad = parsed.isna().mean()
        dup = frame[id_col].duplicated().mean()
        assert bad < 0.001, source
        assert dup < 0.001, source
    ed = _csv(world_dir, "ed_attendances")
    parsed = pd.to_datetime(ed["arrival_time"].str.replace(" ", "T"), errors="coerce", format="ISO8601")
    assert parsed.isna().sum() >= 1  # there is something for ingest to quarantine
