"""A small monthly feature table with agency structure, a LightGBM FallsRiskModel, and its summary."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from falls_risk.features.spec import FeatureSpec

SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec("age", "age", "demographics", aggregation="age_years", unit="years", window_label=""),
    FeatureSpec("sex", "sex", "demographics", aggregation="sex_code", kind="categorical",
                categories=("F", "M", "U"), window_label=""),
    FeatureSpec("local_authority", "local authority", "demographics", aggregation="local_authority_code",
                kind="categorical", categories=("Cardiff", "Swansea", "Newport", "Powys"), window_label=""),
    FeatureSpec("ambulance_fall_not_conveyed_365d",
                "ambulance calls for a fall where they were not taken to hospital", "ambulance service",
                codes=("ambulance/fall_not_conveyed",), window_days=365, unit="calls"),
    FeatureSpec("ambulance_fall_not_conveyed_ever",
                "ambulance calls for a fall where they were not taken to hospital", "ambulance service",
                codes=("ambulance/fall_not_conveyed",), window_days=None, unit="calls"),
    FeatureSpec("ever_dementia", "dementia recorded by the GP or in a hospital diagnosis", "health board",
                codes=("gp/52448006",), aggregation="any", kind="binary"),
    FeatureSpec("days_since_fall", "days since their last recorded fall (any agency)", "health board",
                aggregation="days_since", unit="days", window_label="", missing_means="no fall ever recorded"),
    FeatureSpec("home_care_active", "receiving home care", "social care", codes=("social_care/home_care",),
                aggregation="active_any", kind="binary", window_label="on the index date"),
    FeatureSpec("police_concern_for_welfare_365d", "police concern-for-welfare incidents", "police",
                codes=("police/concern_for_welfare",), window_days=365, unit="incidents"),
    FeatureSpec("adaptation_pending", "waiting for a home adaptation", "housing", codes=("housing/application/*",),
                aggregation="active_any", kind="binary", window_label="on the index date"),
)
FEATURES = [s.name for s in SPECS]
PEOPLE = 900
MONTHS = [d.date() for d in pd.date_range("2021-01-01", "2023-12-01", freq="MS")]


def monthly_feature_table(people: int = PEOPLE, months: list[date] = MONTHS, seed: int = 0) -> pd.DataFrame:
    """One row per person per month; risk driven mostly by ambulance falls, then dementia and age."""
    rng = np.random.default_rng(seed)
    base_age = rng.uniform(65, 98, people)
    sex = rng.choice([0, 1, 2], people, p=[0.55, 0.44, 0.01]).astype(float)
    la = rng.integers(0, 4, people).astype(float)
    frail = rng.gamma(2.0, 0.5, people)
    dementia = (rng.random(people) < 0.05 + 0.08 * frail).astype(float)
    rows = []
    for k, month in enumerate(months):
        age = np.floor(base_age + k / 12)
        amb = rng.poisson(0.25 * frail)
        amb_ever = amb + rng.poisson(0.3 * frail)
        had_fall = rng.random(people) < np.clip(0.25 * frail, 0, 0.9)
        days = np.where(had_fall, rng.integers(5, 1500, people), np.nan)
        home = (rng.random(people) < 0.1 * frail).astype(float)
        welfare = rng.poisson(0.05 + 0.1 * dementia)
        pending = (rng.random(people) < 0.05).astype(float)
        logit = (-3.6 + 0.9 * np.minimum(amb, 3) + 0.25 * np.minimum(amb_ever, 5) + 0.9 * dementia
                 + 0.04 * (age - 80) + 0.4 * welfare + 0.3 * home)
        label = (rng.random(people) < 1 / (1 + np.exp(-logit))).astype(float)
        rows.append(pd.DataFrame({
            "person_key": [f"{i:032x}" for i in range(10**6, 10**6 + people)],
            "index_date": month,
            "age": age, "sex": sex, "local_authority": la,
            "ambulance_fall_not_conveyed_365d": amb.astype(float),
            "ambulance_fall_not_conveyed_ever": amb_ever.astype(float),
            "ever_dementia": dementia, "days_since_fall": days, "home_care_active": home,
            "police_concern_for_welfare_365d": welfare.astype(float), "adaptation_pending": pending,
            "label": label, "died_in_window": False,
        }))
    out = pd.concat(rows, ignore_index=True)
    out["label"] = out["label"].astype("Int64")
    return out


@pytest.fixture(scope="session")
def report_table() -> pd.DataFrame:
    return monthly_feature_table()


@pytest.fixture(scope="session")
def report_split(report_table):
    from falls_risk.modelling.data import temporal_split
    from falls_risk.modelling.record import SplitRecord
    from falls_risk.reporting.inputs import ReportSplit

    split = temporal_split(report_table, test_months=6, calibration_fraction=0.25, seed=0)
    record = SplitRecord.from_split_info(split.info, test_months=6, calibration_fraction=0.25, seed=0)
    return ReportSplit(train=split.train, calibration=split.calibration, test=split.test, record=record)


@pytest.fixture(scope="session")
def report_model(report_split):
    from falls_risk.modelling.model import FallsRiskModel

    model = FallsRiskModel(
        kind="lightgbm", specs=SPECS,
        params={"num_boost_round": 60, "num_leaves": 7, "learning_rate": 0.08, "min_data_in_leaf": 40},
        random_state=0,
    )
    s = report_split
    model.fit(s.train, s.train["label"], X_calibration=s.calibration, y_calibration=s.calibration["label"],
              groups_calibration=s.calibration["person_key"])
    return model


@pytest.fixture(scope="session")
def report_record(report_model, report_split):
    from falls_risk.modelling.evaluation import evaluate_predictions
    from falls_risk.reporting.inputs import RunRecord

    test = report_split.test
    p = report_model.predict_proba(test)
    evaluation = evaluate_predictions(test["label"], p, test["index_date"], test["person_key"], n_bootstrap=30)
    return RunRecord(
        model=report_model, uri="models:/falls-risk@champion", name="falls-risk", version="3", run_id="abc123",
        metrics=evaluation.metrics, params={"model.kind": "lightgbm"}, tags={"git_commit": "0123abcd"},
        start_time="2026-11-20T10:00:00",
    )


@pytest.fixture(scope="session")
def report_summary(report_record, report_split):
    from falls_risk.reporting.summary import collect_summary

    return collect_summary(report_record, report_split, people_per_month=(1, 10, 25, 50, 100), explain_rows=1500)


@pytest.fixture(scope="session")
def report_html(report_summary) -> str:
    from falls_risk.reporting.render import render_report

    return render_report(report_summary)
