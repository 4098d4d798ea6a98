"""The synthetic world keeps to the contract, and its truth covers every record.

Uses the shared session world (``world_dir``: 3,000 people, seed 7, 2019-2025).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from falls_risk import contract
from falls_risk.contract import SOURCES, Kind
from falls_risk.synth.world import PARQUET_SOURCES


def _read(extract: Path, source: str) -> pd.DataFrame:
    if source in PARQUET_SOURCES:
        return pd.read_parquet(extract / f"{source}.parquet")
    return pd.read_csv(extract / f"{source}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def extract(world_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: _read(world_dir / "extract", name) for name in SOURCES}


@pytest.fixture(scope="module")
def record_person(world_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(world_dir / "truth" / "record_person.parquet")


def test_every_source_has_exactly_the_contract_columns(world_dir, extract):
    files = sorted(p.name for p in (world_dir / "extract").iterdir())
    expected = sorted(f"{s}.parquet" if s in PARQUET_SOURCES else f"{s}.csv" for s in SOURCES)
    assert files == expected
    for name, frame in extract.items():
        assert tuple(frame.columns) == SOURCES[name].column_names, name
        assert len(frame) > 0, name


def test_every_vocabulary_value_occurs_and_no_other(extract):
    for name, source in SOURCES.items():
        for column in source.columns:
            if not column.vocabulary:
                continue
            values = extract[name][column.name]
            values = values[values != ""].str.strip()
            # Codes are case-insensitive; sex is upper case by convention.
            seen = set(values.str.lower()) if column.kind is Kind.CODE else set(values.str.upper())
            vocab = (
                {v.lower() for v in column.vocabulary} if column.kind is Kind.CODE else set(column.vocabulary)
            )
            assert seen <= vocab, (name, column.name, seen - vocab)
            # "U" (indeterminate sex) is rare and need not occur in every source.
            required = vocab - {"U"} if column.kind is Kind.SEX else vocab
            assert seen >= required, (name, column.name, "never seen:", required - seen)


def test_required_columns_are_filled_except_rare_bad_rows(extract):
    for name, source in SOURCES.items():
        frame = extract[name]
        for col in source.required_columns:
            empty = (frame[col].astype(str).str.strip() == "").mean()
            assert empty == 0, (name, col, empty)


def test_sources_without_nhs_numbers_have_no_nhs_column(extract):
    for name in ("social_care", "police_incidents", "housing_adaptations"):
        assert "nhs_number" not in extract[name].columns
        assert not any("nhs" in c.lower() for c in extract[name].columns)


def test_truth_covers_every_record_of_every_person_source(world_dir, extract, record_person):
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    known = set(people["nhs_number"])
    for name in ("population", *contract.PERSON_SOURCES):
        truth = record_person[record_person["source"] == name].sort_values("row_number")
        frame = extract[name]
        assert len(truth) == len(frame), name
        assert truth["row_number"].tolist() == list(range(1, len(frame) + 1)), name
        id_col = SOURCES[name].id_column
        if id_col is None:
            assert truth["record_id"].isna().all()
        else:
            assert truth["record_id"].tolist() == frame[id_col].astype(str).tolist(), name
        assert set(truth["nhs_number"]) <= known, name


def test_population_nhs_numbers_are_valid_unique_and_the_truth(extract, record_person):
    pop = extract["population"]
    assert pop["nhs_number"].is_unique
    digits = np.array([[int(ch) for ch in s] for s in pop["nhs_number"]])
    check = 11 - (digits[:, :9] * np.arange(10, 1, -1)).sum(axis=1) % 11
    check[check == 11] = 0
    assert (check == digits[:, 9]).all()
    truth = record_person[record_person["source"] == "population"].sort_values("row_number")
    assert truth["nhs_number"].tolist() == pop["nhs_number"].tolist()


def test_every_person_source_has_people_outside_the_spine(extract, record_person):
    # Issue 14: about a third of police and a quarter of ED and ambulance records belong to people
    # outside the spine (relatives, visitors, younger suspects and witnesses).
    spine = set(extract["population"]["nhs_number"])
    bands = {"police_incidents": (0.28, 0.42), "ed_attendances": (0.2, 0.32), "ambulance_calls": (0.18, 0.3)}
    for name in contract.PERSON_SOURCES:
        truth = record_person[record_person["source"] == name]
        outside = (~truth["nhs_number"].isin(spine)).mean()
        low, high = bands.get(name, (0.003, 0.12))
        assert low < outside < high, (name, outside)
        assert (truth["in_spine"] == truth["nhs_number"].isin(spine)).all(), name


def test_relatives_share_the_household_surname_and_address_and_some_the_forename(world_dir, extract):
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    relatives = people[people["person_kind"] == "relative"]
    assert len(relatives) > 0.2 * people["in_spine"].sum()
    years = pd.to_datetime(relatives["date_of_birth"]).dt.year
    assert years.between(1970, 1992).all()
    parents = people.set_index("nhs_number").loc[relatives["relative_of_nhs_number"]]
    assert parents["in_spine"].all()
    sons = (relatives["relationship"] == "son").to_numpy()
    assert (relatives["surname"].to_numpy()[sons] == parents["surname"].to_numpy()[sons]).mean() > 0.9
    # "John Jones" and son.
    fathers = (parents["sex"] == "M").to_numpy()
    same_forename = relatives["forename"].to_numpy() == parents["forename"].to_numpy()
    assert 0.05 < same_forename[sons & fathers].mean() < 0.4
    # Many live in the household: their ED and police records carry its postcode.
    police = extract["police_incidents"]
    truth = pd.read_parquet(world_dir / "truth" / "record_person.parquet")
    rows = truth[truth["source"] == "police_incidents"].sort_values("row_number")
    assert (rows["person_kind"] == "relative").sum() > 20
    assert set(rows["person_kind"]) == {"spine", "relative", "outsider"}
    assert len(police) == len(rows)


def test_placeholder_numbers_and_dates_of_birth_occur(extract):
    for name in ("ed_attendances", "ambulance_calls"):
        numbers = extract[name]["nhs_number"].str.replace(" ", "")
        assert numbers.isin(["0000000000", "9999999999"]).any(), name
    for name in ("police_incidents", "ambulance_calls"):
        dob = extract[name]["date_of_birth"]
        assert (dob == "1900-01-01").any(), name
        assert dob.str.endswith("-01-01").mean() > (dob == "1900-01-01").mean(), name
        assert (dob == "").any(), name


def test_twins_share_a_birth_date_and_surname_inside_and_across_the_spine(world_dir):
    people = pd.read_parquet(world_dir / "truth" / "people.parquet").set_index("nhs_number")
    twins = people[people["twin_nhs_number"].notna()]
    other = people.loc[twins["twin_nhs_number"]]
    assert (twins["date_of_birth"].to_numpy() == other["date_of_birth"].to_numpy()).all()
    assert (twins["surname"].to_numpy() == other["surname"].to_numpy()).all()
    assert (twins["forename"].to_numpy() != other["forename"].to_numpy()).all()
    assert twins["in_spine"].any() and (~twins["in_spine"]).any()


def test_police_incidents_repeat_for_each_person_involved(extract, record_person):
    police = extract["police_incidents"]
    per_incident = police.groupby("incident_id").size()
    assert (per_incident > 1).mean() > 0.1
    # Younger suspects and witnesses are outside the spine.
    truth = record_person[record_person["source"] == "police_incidents"].sort_values("row_number")
    spine = set(extract["population"]["nhs_number"])
    suspects = police["person_role"].str.lower().to_numpy() == "suspect"
    assert (~truth["nhs_number"].isin(spine).to_numpy()[suspects]).mean() > 0.3


def test_fall_admissions_in_truth_are_the_outcome_rows(world_dir, extract, record_person):
    falls = pd.read_parquet(world_dir / "truth" / "fall_admissions.parquet")
    ip = extract["inpatient_spells"]
    dx = ip["diagnoses"].str.upper().str.replace(".", "", regex=False)
    is_fall = dx.str.split(";").apply(
        lambda codes: any(c[:3] in contract.OUTCOME_ICD10_PREFIXES for c in codes)
    )
    outcome = ip[is_fall & (ip["admission_method"].str.lower() == "emergency")]
    assert set(outcome["spell_id"]) == set(falls["spell_id"])
    # Hip fractures (S72.0-S72.2) are common among them.
    assert 0.2 < falls["hip_fracture"].mean() < 0.6
    # Each fall admission is attributed to the person the truth names.
    truth = record_person[record_person["source"] == "inpatient_spells"].set_index("record_id")["nhs_number"]
    assert (truth.loc[falls["spell_id"]].to_numpy() == falls["nhs_number"].to_numpy()).all()


def test_discharge_follows_admission_and_events_fall_in_the_period(extract):
    ip = extract["inpatient_spells"]
    adm = pd.to_datetime(ip["admission_date"], errors="coerce")
    dis = pd.to_datetime(ip["discharge_date"], errors="coerce")
    ok = adm.notna() & dis.notna()
    assert (dis[ok] >= adm[ok]).all()
    los = (dis[ok] - adm[ok]).dt.days
    assert 2 <= los.median() <= 10
    for name, source in SOURCES.items():
        col = source.event_date_column
        if col is None or name == "population":
            continue
        when = pd.to_datetime(
            extract[name][col].astype(str).str.replace(" ", "T"), errors="coerce", format="ISO8601"
        )
        when = when.dropna()
        assert when.min() >= pd.Timestamp("2019-01-01"), name
        assert when.max() < pd.Timestamp("2026-01-01"), name


def test_primary_care_volumes_and_codes(extract):
    gp, rx = extract["gp_events"], extract["prescriptions"]
    n = len(extract["population"])
    # Under 6 million rows for 70,000 people.
    assert (len(gp) + len(rx)) / n < 6_000_000 / 70_000
    assert (rx["bnf_code"].str.len() >= 7).all()
    assert gp["snomed_code"].str.fullmatch(r"\d+").all()
    # Repeat prescriptions are issued every two to three months, not monthly.
    clean = rx.assign(
        nhs=rx["nhs_number"].str.replace(" ", ""),
        code=rx["bnf_code"].str.upper().str[:9],
        issue_date=pd.to_datetime(rx["issue_date"]),
    )
    clean = clean.sort_values(["nhs", "code", "issue_date"])
    gaps = clean.groupby(["nhs", "code"])["issue_date"].diff().dt.days.dropna()
    assert 50 <= gaps.median() <= 95
    # Fall-risk-increasing drugs of the contract are there.
    for prefix in ("0401", "0402", "0403", "0408", "040702", "0205", "0202", "0601"):
        assert rx["bnf_code"].str.upper().str.startswith(prefix).any(), prefix
    for snomed in ("52448006", "49049000", "230690007", "1912002", "248279007", "5913000"):
        assert (gp["snomed_code"] == snomed).any(), snomed


def test_couples_share_an_address_in_the_population_file(world_dir, extract):
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    spine = people[people["in_spine"] & people["spouse_nhs_number"].notna()]
    pop = extract["population"].set_index("nhs_number")
    postcode = pop["postcode"].str.upper().str.replace(" ", "")
    both = spine[spine["date_of_death"].isna() & spine["deregistration_date"].isna()]
    both = both[both["spouse_nhs_number"].isin(both["nhs_number"])]
    assert len(both) > 100
    same = postcode.loc[both["nhs_number"]].to_numpy() == postcode.loc[both["spouse_nhs_number"]].to_numpy()
    assert same.mean() > 0.95
    # And the truth's last address is the population file's.
    truth_pc = people.set_index("nhs_number")["postcode"].str.replace(" ", "")
    assert (truth_pc.loc[pop.index].to_numpy() == postcode.to_numpy()).mean() > 0.97
