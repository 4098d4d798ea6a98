"""A synthetic feature table with known true risks, for modelling tests (no pipeline needed)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from falls_risk.features.spec import FeatureSpec

SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec("age", "age in years", "demographics", aggregation="value", unit="years"),
    FeatureSpec("sex", "sex", "demographics", aggregation="value", kind="categorical", categories=("F", "M", "U")),
    FeatureSpec("wimd_quintile", "deprivation quintile", "demographics", aggregation="value",
                kind="categorical", categories=("1", "2", "3", "4", "5")),
    FeatureSpec("local_authority", "local authority", "demographics", aggregation="value",
                kind="categorical", categories=("Cardiff", "Swansea", "Newport")),
    FeatureSpec("fall_admissions_12m", "emergency admissions for a fall", "health board",
                codes=("inpatient/fall_emergency",), window_days=365),
    FeatureSpec("ambulance_falls_12m", "ambulance calls for a fall", "ambulance service",
                codes=("ambulance/fall_not_conveyed",), window_days=365),
    FeatureSpec("dementia", "dementia recorded", "health board", codes=("gp/52448006",), aggregation="any",
                kind="binary"),
    FeatureSpec("frailty", "frailty recorded", "health board", codes=("gp/248279007",), aggregation="any",
                kind="binary"),
    FeatureSpec("parkinsons", "Parkinson's disease recorded", "health board", codes=("gp/49049000",),
                aggregation="any", kind="binary"),
    FeatureSpec("frid_count_12m", "fall-risk-increasing drugs issued", "health board", codes=("rx/0401",),
                window_days=365),
    FeatureSpec("home_care", "home care received", "social care", codes=("social_care/home_care",),
                aggregation="any", kind="binary"),
    FeatureSpec("welfare_checks_12m", "police welfare checks", "police", codes=("police/concern_for_welfare",),
                window_days=365),
)
FEATURES = [s.name for s in SPECS]


def quarterly_dates(start: str = "2019-01-01", end: str = "2024-10-01") -> list[date]:
    return [d.date() for d in pd.date_range(start, end, freq="QS")]


def make_feature_frame(people: int = 1500, dates: list[date] | None = None, seed: int = 0,
                       unknown_after: date | None = None) -> pd.DataFrame:
    """One row per person per index date, with a non-linear true risk and a 0/1 label.

    Labels for index dates after ``unknown_after`` are null (their window is not over yet).
    Columns: person_key, index_date, the SPECS features, label, died_in_window, true_risk.
    """
    rng = np.random.default_rng(seed)
    dates = dates or quarterly_dates()
    base_age = rng.uniform(60, 95, people)
    sex = rng.choice([0, 1, 2], people, p=[0.54, 0.45, 0.01])
    wimd = rng.integers(0, 5, people)
    la = rng.integers(0, 3, people)
    frail_base = rng.normal(0, 1, people)
    rows = []
    for k, d in enumerate(dates):
        age = base_age + k * 0.25
        frailty_latent = frail_base + 0.04 * (age - 75) + rng.normal(0, 0.5, people)
        dementia = (rng.random(people) < 1 / (1 + np.exp(-(frailty_latent - 2.2)))).astype(float)
        frailty = (frailty_latent > 1.0).astype(float)
        parkinsons = (rng.random(people) < 0.02).astype(float)
        falls = rng.poisson(np.exp(-3.2 + 0.9 * frailty_latent))
        amb = rng.poisson(np.exp(-2.8 + 0.8 * frailty_latent))
        frid = rng.poisson(np.exp(0.2 + 0.3 * frailty_latent))
        home_care = (rng.random(people) < 1 / (1 + np.exp(-(frailty_latent - 1.5)))).astype(float)
        welfare = rng.poisson(0.05 + 0.1 * dementia)
        # Non-linear truth: an interaction (dementia x lives with falls) and a saturating age effect.
        logit = (-4.6 + 0.06 * np.clip(age - 65, 0, 25) + 0.55 * np.minimum(falls, 3) + 0.35 * np.minimum(amb, 3)
                 + 0.8 * dementia * (falls > 0) + 0.5 * frailty + 0.6 * parkinsons + 0.08 * np.minimum(frid, 6)
                 + 0.3 * home_care + 0.25 * welfare + 0.1 * (wimd == 0) - 0.15 * (sex == 1))
        true_risk = 1 / (1 + np.exp(-logit))
        label = (rng.random(people) < true_risk).astype(float)
        frame = pd.DataFrame({
            "person_key": [f"p{i:06d}" for i in range(people)],
            "index_date": pd.Timestamp(d).date(),
            "age": np.floor(age),
            "sex": sex,
            "wimd_quintile": np.where(rng.random(people) < 0.02, np.nan, wimd),
            "local_authority": la,
            "fall_admissions_12m": falls,
            "ambulance_falls_12m": amb,
            "dementia": dementia,
            "frailty": frailty,
            "parkinsons": parkinsons,
            "frid_count_12m": frid,
            "home_care": home_care,
            "welfare_checks_12m": welfare,
            "label": label,
            "died_in_window": False,
            "true_risk": true_risk,
        })
        if unknown_after is not None and d > unknown_after:
            frame["label"] = np.nan
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    out["label"] = out["label"].astype("Int64")
    return out
