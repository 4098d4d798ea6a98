"""Leakage and correctness properties of the generated SQL (Hypothesis).

1. Adding, removing or moving any record not known before the index date (an event on or after
   it, a spell discharged on or after it) or moving the end of an episode that was still open at
   the index date never changes a feature.
2. The SQL agrees with the plain-Python reference implementation on random event histories.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falls_risk.config import FeatureConfig
from falls_risk.features.compute import compute_from_frames
from falls_risk.features.registry import feature_names
from tests.features.pandas_reference import pandas_features
from tests.features.reference import reference_features

D = date(2023, 1, 1)
UNTIL = date(2025, 6, 30)

CODES = {
    "ed/fall": "ed_attendances",
    "ed/breathing": "ed_attendances",
    "inpatient/emergency": "inpatient_spells",
    "inpatient/elective": "inpatient_spells",
    "inpatient/fall_emergency": "inpatient_spells",
    "inpatient/hip_fracture": "inpatient_spells",
    "icd10/F03": "inpatient_spells",
    "icd10/W010": "inpatient_spells",
    "gp/52448006": "gp_events",
    "gp/1912002": "gp_events",
    "gp/38341003": "gp_events",
    "rx/0401010X0AAAAAA": "prescriptions",
    "rx/0205051R0": "prescriptions",
    "rx/0101010": "prescriptions",
    "ambulance/fall_not_conveyed": "ambulance_calls",
    "ambulance/fall_conveyed": "ambulance_calls",
    "ambulance/other_conveyed": "ambulance_calls",
    "social_care/home_care": "social_care",
    "social_care/telecare": "social_care",
    "social_care/reablement": "social_care",
    "police/victim": "police_incidents",
    "police/concern_for_welfare": "police_incidents",
    "housing/application/ramp": "housing_adaptations",
    "housing/completed/ramp": "housing_adaptations",
}

POPULATION = pd.DataFrame(
    {
        "person_key": ["p1", "p2", "p3"],
        "sex": ["F", "M", "F"],
        "birth_month": ["1940-05", "1950-11", "1955-01"],
        "lsoa_code": ["a", "b", "b"],
        "wimd_rank": [10, 1500, 1500],
        "local_authority": ["Torfaen", "Caerphilly", "Caerphilly"],
        "registration_date": [date(1990, 1, 1)] * 3,
        # p2's death closes the registration; p3 moves away in both label windows.
        "deregistration_date": [None, date(2023, 9, 1), date(2023, 10, 1)],
        "date_of_death": [None, date(2023, 9, 1), None],
        "household_key": ["h1", "h2", "h2"],
    }
).astype(
    {
        "registration_date": "datetime64[s]",
        "deregistration_date": "datetime64[s]",
        "date_of_death": "datetime64[s]",
    }
)

CONFIGS = [
    FeatureConfig(),
    FeatureConfig(arrival_lag_days={"police_incidents": 61, "social_care": 30, "inpatient_spells": 14}),
]


ADMISSIONS = ("inpatient/emergency", "inpatient/elective")  # the codes whose end_time is the discharge


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


@st.composite
def event(draw, min_offset: int = -900, max_offset: int = 400, known_from: date | None = None) -> dict:
    """One event as ``events.build`` writes it. A spell's events become known at its discharge;
    every other record at its event time. ``known_from``: a record known on or after that day
    (a spell discharged then, though maybe admitted before)."""
    code = draw(st.sampled_from(sorted(CODES)))
    source = CODES[code]
    offset = draw(st.integers(min_offset, max_offset))
    hour = draw(st.sampled_from([0, 0, 9, 23]))
    start = _midnight(D) + timedelta(days=offset, hours=hour)
    end = None
    known = start
    if source == "inpatient_spells":
        known = start.replace(hour=0) + timedelta(days=draw(st.integers(0, 60)))
        if known_from is not None and known.date() < known_from:
            known = _midnight(known_from) + timedelta(days=draw(st.integers(0, 90)))
        end = known if code in ADMISSIONS else None
    else:
        if known_from is not None and start.date() < known_from:
            start = known = _midnight(known_from) + timedelta(days=draw(st.integers(0, 90)), hours=hour)
        if source in ("social_care", "housing_adaptations") and draw(st.booleans()):
            end = start.replace(hour=0) + timedelta(days=draw(st.integers(0, 300)))
    episodic = code.split("/")[0] in ("inpatient", "social_care", "housing")
    value = draw(st.one_of(st.none(), st.sampled_from([0.0, 2.5, 7.0, 14.0]))) if episodic else None
    return {
        "person_key": draw(st.sampled_from(["p1", "p2", "p3"])),
        "event_time": start,
        "source": source,
        "code": code,
        "value": value,
        "end_time": end,
        "match_probability": draw(st.sampled_from([None, 1.0, 0.999, 0.97, 0.95, 0.9])),
        "known_time": known,
    }


COLUMNS = ["person_key", "event_time", "source", "code", "value", "end_time", "match_probability", "known_time"]


def frame(events: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(events, columns=COLUMNS)
    return df.astype(
        {
            "event_time": "datetime64[us]",
            "end_time": "datetime64[us]",
            "known_time": "datetime64[us]",
            "value": "float64",
            "match_probability": "float64",
            "person_key": "str",
            "source": "str",
            "code": "str",
        }
    )


def features(events: list[dict], config: FeatureConfig, dates: tuple[date, ...] = (D,)) -> pd.DataFrame:
    return compute_from_frames(frame(events), POPULATION, list(dates), config=config, label_known_until=UNTIL)


def _unknown_at_d(e: dict) -> bool:
    return e["known_time"].date() >= D


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(event(), max_size=30),
    added=st.lists(st.one_of(event(min_offset=0), event(min_offset=-120, max_offset=0, known_from=D)), max_size=6),
    data=st.data(),
    config=st.sampled_from(CONFIGS),
)
def test_what_was_not_known_before_the_index_date_never_changes_a_feature(events, added, data, config) -> None:
    """Adding, removing or moving a record known on or after the index date (a spell discharged
    after it, though admitted before), or moving the end of an episode still open at the index
    date, never changes a feature."""
    changed = []
    for e in events:
        if _unknown_at_d(e):
            action = data.draw(st.sampled_from(["keep", "drop", "move"]))
            if action == "drop":
                continue
            if action == "move":
                known = _midnight(D) + timedelta(days=data.draw(st.integers(0, 500)))
                start = known - timedelta(days=data.draw(st.integers(0, 60)) if e["source"] == "inpatient_spells" else 0)
                e = {**e, "event_time": start + timedelta(hours=data.draw(st.integers(0, 23))), "known_time": known,
                     "end_time": known if e["code"] in ADMISSIONS else e["end_time"]}
        elif e["end_time"] is not None and e["end_time"].date() >= D:
            # An episode still open at the index date: when it ends afterwards is the future.
            e = {**e, "end_time": _midnight(D) + timedelta(days=data.draw(st.integers(0, 500)))}
        changed.append(e)
    changed += added
    before = features(events, config)[["person_key", *feature_names()]]
    after = features(changed, config)[["person_key", *feature_names()]]
    pd.testing.assert_frame_equal(before, after)


def _as_reference_rows(events: list[dict]) -> list[dict]:
    return [{**e, "event_time": e["event_time"], "end_time": e["end_time"]} for e in events]


def _population_rows() -> list[dict]:
    rows = POPULATION.astype(object).where(POPULATION.notna(), None).to_dict("records")
    for r in rows:
        for col in ("registration_date", "deregistration_date", "date_of_death"):
            if r[col] is not None:
                r[col] = pd.Timestamp(r[col]).date()
    return rows


def compare_with_reference(sql: pd.DataFrame, ref_rows: list[dict], skip: tuple[str, ...] = ()) -> None:
    """Assert the SQL table equals the reference rows (features, label, died_in_window)."""
    ref = pd.DataFrame(ref_rows)
    ref["index_date"] = pd.to_datetime(ref["index_date"])
    names = [n for n in feature_names() if n not in skip]
    cols = ["person_key", "index_date", *names]
    left = sql[cols].sort_values(["index_date", "person_key"]).reset_index(drop=True)
    right = ref[cols].sort_values(["index_date", "person_key"]).reset_index(drop=True)
    right[names] = right[names].astype("float64")
    pd.testing.assert_frame_equal(left, right, check_dtype=False, check_exact=False, rtol=1e-9)
    for col in ("label", "died_in_window"):
        got = sql.sort_values(["index_date", "person_key"])[col].astype("float64").to_numpy()
        want = pd.to_numeric(ref.sort_values(["index_date", "person_key"])[col]).astype("float64").to_numpy()
        np.testing.assert_array_equal(got, want)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event(), max_size=40), config=st.sampled_from(CONFIGS))
def test_sql_matches_the_plain_python_reference(events, config) -> None:
    dates = [D, date(2023, 7, 1)]
    sql = features(events, config, dates)
    ref = reference_features(
        _as_reference_rows(events), _population_rows(), dates, config, label_known_until=UNTIL
    )
    compare_with_reference(sql, ref)


def _fall_admission(person: str, day: date) -> dict:
    return {
        "person_key": person, "event_time": datetime.combine(day, datetime.min.time()),
        "source": "inpatient_spells", "code": "inpatient/fall_emergency", "value": None,
        "end_time": None, "match_probability": 1.0, "known_time": datetime.combine(day, datetime.min.time()),
    }


def test_a_move_away_censors_the_label_but_a_death_or_an_earlier_fall_does_not() -> None:
    labels = features([], FeatureConfig()).set_index("person_key")["label"]
    assert labels["p1"] == 0 and labels["p2"] == 0 and pd.isna(labels["p3"])
    fell_then_moved = features([_fall_admission("p3", date(2023, 8, 1))], FeatureConfig())
    assert fell_then_moved.set_index("person_key").loc["p3", "label"] == 1
    # The pandas implementation (the benchmark's comparison) censors the same way.
    events = frame([_fall_admission("p3", date(2023, 8, 1))])
    events["code"] = events["code"].astype("category")
    events["person_key"] = events["person_key"].astype("category")
    by_pandas = pandas_features(events, POPULATION, D, label_known_until=UNTIL).set_index("person_key")
    assert by_pandas["label"].to_dict() == {"p1": 0, "p2": 0, "p3": 1}
    assert by_pandas.loc["p2", "died_in_window"] == 1
