"""A small feature set with every way a value reads, and a real LightGBM model trained on it."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from falls_risk.features.spec import FeatureSpec

SPECS = (
    FeatureSpec("age", "age", "demographics", aggregation="age_years", unit="years", window_label=""),
    FeatureSpec(
        "tenure", "housing tenure", "housing", aggregation="value", kind="categorical",
        categories=("owner", "council", "private rent"), window_label="",
    ),
    FeatureSpec(
        "amb_nc_365d", "ambulance calls for a fall where they were not taken to hospital",
        "ambulance service", window_days=365, unit="calls", missing_means="never missing: 0 when none",
        singular="ambulance call for a fall where they were not taken to hospital",
    ),
    FeatureSpec(
        "amb_nc_ever", "ambulance calls for a fall where they were not taken to hospital",
        "ambulance service", window_days=None, unit="calls",
        singular="ambulance call for a fall where they were not taken to hospital",
    ),
    FeatureSpec(
        "home_care_active", "receiving home care", "social care", aggregation="active_any", kind="binary",
        window_label="on the index date",
    ),
    FeatureSpec(
        "days_since_fall", "days since their last recorded fall (any agency)", "health board",
        aggregation="days_since", unit="days", window_label="", missing_means="no fall ever recorded",
    ),
    FeatureSpec(
        "welfare_365d", "police concern-for-welfare incidents", "police", window_days=365,
        singular="police concern-for-welfare incident",
    ),
)
NAMES = [s.name for s in SPECS]


def make_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` people (with a ``person_key`` column the explanation must ignore) and their outcomes."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "person_key": [f"pk{i:05d}" for i in range(n)],
            "age": rng.integers(65, 100, n).astype(float),
            "tenure": rng.integers(0, 3, n).astype(float),
            "amb_nc_365d": rng.poisson(0.4, n).astype(float),
            "home_care_active": rng.integers(0, 2, n).astype(float),
            "days_since_fall": np.where(rng.random(n) < 0.5, np.nan, rng.integers(1, 2000, n)),
            "welfare_365d": rng.poisson(0.2, n).astype(float),
        }
    )
    X["amb_nc_ever"] = X["amb_nc_365d"] + rng.poisson(0.3, n)
    X.loc[rng.random(n) < 0.05, "tenure"] = np.nan
    logit = (
        -2.5 + 1.1 * X["amb_nc_365d"] + 0.04 * (X["age"] - 80) + 0.8 * X["tenure"].eq(1)
        + 0.6 * X["welfare_365d"] - 0.7 * X["home_care_active"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


class TreeModel:
    """The parts of FallsRiskModel that explain reads, around a real LightGBM booster."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster_ = booster
        self.feature_names_ = NAMES
        self.categorical_features_ = ["tenure"]
        self.calibrator_ = None

    def raw_margin(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(X.loc[:, NAMES].astype(float), raw_score=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-self.raw_margin(X)))


def train_tree_model(X: pd.DataFrame, y: np.ndarray) -> TreeModel:
    train = lgb.Dataset(X[NAMES], y, categorical_feature=["tenure"], free_raw_data=False)
    params = {"objective": "binary", "verbosity": -1, "num_leaves": 15, "learning_rate": 0.1,
              "num_threads": 1, "min_data_per_group": 20, "cat_smooth": 1, "seed": 1}
    return TreeModel(lgb.train(params, train, num_boost_round=60))
