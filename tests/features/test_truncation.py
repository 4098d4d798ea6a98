"""The truncation test: features at a date from the full history equal those from the extract cut
at that date (every source cut to what its agency had sent by then), for every row.

The cut is made by the oracle in ``tests/features/truncation.py`` from the linked source tables,
written from the agencies' side (a spell arrives at discharge, ...), not from the contract's
declaration; both sides then go through the same events build and feature SQL.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falls_risk.config import FeatureConfig
from falls_risk.features import parse_index_dates
from tests.features.truncation import load_linked, truncate_sources, truncation_differences

D = date(2023, 1, 1)
DATES = [D, date(2023, 4, 1)]
LAGS = FeatureConfig(arrival_lag_days={"inpatient_spells": 14, "police_incidents": 61, "social_care": 30,
                                        "housing_adaptations": 20, "ambulance_calls": 3})
CONFIGS = [FeatureConfig(), LAGS]
PEOPLE = ["p1", "p2", "p3"]

POPULATION = pd.DataFrame(
    {
        "person_key": PEOPLE,
        "sex": ["F", "M", "F"],
        "birth_month": ["1940-05", "1950-11", "1955-01"],
        "lsoa_code": ["a", "b", "b"],
        "wimd_rank": [10, 1500, 1500],
        "local_authority": ["Torfaen", "Caerphilly", "Caerphilly"],
        "registration_date": pd.to_datetime(["1990-01-01", "1990-01-01", "2022-06-01"]),
        "deregistration_date": pd.to_datetime([None, "2023-03-01", "2023-02-10"]),
        "date_of_death": pd.to_datetime([None, "2023-03-01", None]),
        "household_key": ["h1", "h2", "h2"],
    }
)


def _day(draw, low: int = -500, high: int = 200) -> pd.Timestamp:
    return pd.Timestamp(D) + pd.Timedelta(days=draw(st.integers(low, high)))


def _linked(draw) -> dict:
    return {"person_key": draw(st.sampled_from(PEOPLE)),
            "match_probability": draw(st.sampled_from([1.0, 0.999, 0.95, 0.85]))}


@st.composite
def spell(draw) -> dict:
    admitted = _day(draw)
    return {**_linked(draw), "admission_date": admitted,
            "discharge_date": admitted + pd.Timedelta(days=draw(st.integers(0, 90))),
            "admission_method": draw(st.sampled_from(["emergency", "elective"])),
            "diagnoses": draw(st.sampled_from(["W19", "S720;W010", "J18", "F03;I10"]))}


@st.composite
def episode(draw) -> dict:
    start = _day(draw)
    end = start + pd.Timedelta(days=draw(st.integers(0, 300))) if draw(st.booleans()) else pd.NaT
    return {**_linked(draw), "service_type": draw(st.sampled_from(["home_care", "telecare", "reablement"])),
            "start_date": start, "end_date": end,
            "weekly_hours": draw(st.sampled_from([None, 3.0, 10.5]))}


@st.composite
def adaptation(draw) -> dict:
    applied = _day(draw)
    done = applied + pd.Timedelta(days=draw(st.integers(0, 200))) if draw(st.booleans()) else pd.NaT
    return {**_linked(draw), "adaptation_type": draw(st.sampled_from(["ramp", "grab_rails"])),
            "application_date": applied, "completed_date": done}


@st.composite
def ed(draw) -> dict:
    return {**_linked(draw), "arrival_time": _day(draw) + pd.Timedelta(hours=draw(st.sampled_from([0, 9, 23]))),
            "presenting_complaint": draw(st.sampled_from(["fall", "breathing"]))}


@st.composite
def call(draw) -> dict:
    return {**_linked(draw), "call_time": _day(draw) + pd.Timedelta(hours=draw(st.sampled_from([0, 23]))),
            "chief_complaint": draw(st.sampled_from(["fall", "other"])), "conveyed": draw(st.booleans())}


@st.composite
def incident(draw) -> dict:
    return {**_linked(draw), "incident_date": _day(draw),
            "person_role": draw(st.sampled_from(["victim", "witness"])),
            "incident_type": draw(st.sampled_from(["fraud_scam", "concern_for_welfare"]))}


@st.composite
def gp(draw) -> dict:
    return {**_linked(draw), "event_date": _day(draw), "snomed_code": draw(st.sampled_from(["52448006", "1912002"]))}


@st.composite
def issue(draw) -> dict:
    return {**_linked(draw), "issue_date": _day(draw),
            "bnf_code": draw(st.sampled_from(["0401010X0AAAAAA", "0205051R0AAAAAA"]))}


SOURCES = {
    "inpatient_spells": spell(), "social_care": episode(), "housing_adaptations": adaptation(),
    "ed_attendances": ed(), "ambulance_calls": call(), "police_incidents": incident(),
    "gp_events": gp(), "prescriptions": issue(),
}
DATE_COLUMNS = ("admission_date", "discharge_date", "start_date", "end_date", "application_date",
                "completed_date", "event_date", "issue_date", "incident_date")


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column in DATE_COLUMNS:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
    return frame


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.fixed_dictionaries({name: st.lists(s, min_size=1, max_size=6) for name, s in SOURCES.items()}),
    config=st.sampled_from(CONFIGS),
)
def test_features_equal_those_of_the_extract_cut_at_the_index_date(rows, config) -> None:
    sources = {name: _frame(r) for name, r in rows.items()}
    full, diffs = truncation_differences(sources, POPULATION, DATES, config)
    assert len(full) > 0
    assert diffs.empty, diffs.to_string()


def test_a_spell_open_at_the_index_date_is_what_the_cut_removes() -> None:
    """The property is not vacuous: an open spell is in the full history, not in the cut, and
    the features agree only because it counts nowhere at the index date."""
    admitted, discharged = D - timedelta(days=5), D + timedelta(days=9)
    spells = _frame([{"person_key": "p1", "match_probability": 1.0, "admission_date": admitted,
                      "discharge_date": discharged, "admission_method": "emergency", "diagnoses": "W19"}])
    assert truncate_sources({"inpatient_spells": spells}, D, FeatureConfig())["inpatient_spells"].empty
    full, diffs = truncation_differences({"inpatient_spells": spells}, POPULATION, [D, date(2023, 2, 1)])
    assert diffs.empty
    p1 = full.set_index(["person_key", "index_date"])
    assert p1.loc[("p1", pd.Timestamp(D)), "fall_admissions_ever"] == 0
    assert p1.loc[("p1", pd.Timestamp(2023, 2, 1)), "fall_admissions_ever"] == 1
    assert p1.loc[("p1", pd.Timestamp(2023, 2, 1)), "bed_days_90d"] == 14


@pytest.fixture(scope="module")
def linked_sources(linked_workspace: Path):
    return load_linked(linked_workspace)


@pytest.mark.parametrize("config", CONFIGS, ids=["no-lag", "lags"])
def test_every_row_of_the_synthetic_world_survives_truncation(linked_sources, config) -> None:
    sources, population = linked_sources
    dates = parse_index_dates("2021-01-01:2024-10-01:quarterly")[::2]
    # The world does have spells open at these dates (what the rule must not see).
    spells = sources["inpatient_spells"]
    admitted, discharged = pd.to_datetime(spells["admission_date"]), pd.to_datetime(spells["discharge_date"])
    assert sum(((admitted < pd.Timestamp(d)) & (discharged >= pd.Timestamp(d))).sum() for d in dates) >= 10
    full, diffs = truncation_differences(sources, population, dates, config)
    assert len(full) >= 10_000
    assert diffs.empty, f"{diffs[['person_key', 'index_date']].drop_duplicates().shape[0]} rows differ:\n" + (
        diffs.groupby("feature").size().to_string()
    )
