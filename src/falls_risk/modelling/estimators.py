"""The uncalibrated scorers behind :class:`FallsRiskModel`: each maps features to log-odds.

``fit_scorer(variant, ...)`` trains one; every scorer has ``margin(X) -> ndarray``. The
calibrator (fitted afterwards on a separate slice) turns a margin into a probability.

Variants (the ``kind`` of an experiment's model):

* ``age_sex_logistic`` - logistic regression on age and sex only (the minimum any model must beat);
* ``previous_fall_rule`` - "has a fall been recorded by any agency": the number of fall-evidence
  features that are non-zero, turned into log-odds by a one-variable logistic fit;
* ``deficit_score`` - an eFI-style score: the share of deficits (binary conditions and frailty
  markers) present, turned into log-odds the same way;
* ``logistic`` - regularised logistic regression on all features;
* ``lightgbm`` - gradient-boosted trees, LightGBM's defaults unless params say otherwise
  (``lightgbm_tuned`` uses the same scorer with Optuna's parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from falls_risk.errors import ModelError, parameter_error

VARIANTS = ("age_sex_logistic", "previous_fall_rule", "deficit_score", "logistic", "lightgbm", "lightgbm_tuned")
FAMILY = {
    "age_sex_logistic": "logistic",
    "logistic": "logistic",
    "previous_fall_rule": "rule",
    "deficit_score": "rule",
    "lightgbm": "lightgbm",
    "lightgbm_tuned": "lightgbm",
}
LIGHTGBM_FIXED = {"objective": "binary", "verbosity": -1, "num_threads": 2, "deterministic": True}


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


def as_model_frame(X: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The columns a model reads, as float64 (categoricals as their integer codes, NaN if missing).

    Never a category dtype: the served pyfunc model receives plain numbers.
    """
    missing = [f for f in features if f not in X.columns]
    if missing:
        raise ModelError(
            f"The feature table lacks {len(missing)} feature(s) the model needs: {missing[:5]}. "
            "Rebuild features with the registry version the model was trained on."
        )
    return X.loc[:, list(features)].astype("float64")


class LogisticScorer:
    def __init__(self, features: Sequence[str], categorical: Sequence[str], C: float, seed: int) -> None:
        self.features = list(features)
        self.categorical = [c for c in categorical if c in self.features]
        self.C = C
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LogisticScorer:
        numeric = [f for f in self.features if f not in self.categorical]
        steps = []
        if numeric:
            steps.append(
                (
                    "numeric",
                    make_pipeline(
                        FunctionTransformer(_signed_log1p, feature_names_out="one-to-one"),
                        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                        StandardScaler(),
                    ),
                    numeric,
                )
            )
        if self.categorical:
            steps.append(
                (
                    "categorical",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ),
                    self.categorical,
                )
            )
        self.pipeline_ = Pipeline(
            [
                ("prepare", ColumnTransformer(steps)),
                ("logistic", LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)),
            ]
        )
        self.pipeline_.fit(X[self.features], y)
        return self

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.decision_function(X[self.features])


class ScoreRuleScorer:
    """A hand-made score (count or share of indicators) mapped to log-odds by a 1-D logistic fit."""

    def __init__(self, features: Sequence[str], reduce: str) -> None:
        self.features = list(features)
        self.reduce = reduce

    def score(self, X: pd.DataFrame) -> np.ndarray:
        present = (X[self.features].to_numpy(dtype=float, na_value=0.0) > 0).astype(float)
        return present.mean(axis=1) if self.reduce == "mean" else present.sum(axis=1)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ScoreRuleScorer:
        self.link_ = LogisticRegression(C=np.inf, max_iter=1000).fit(self.score(X).reshape(-1, 1), y)
        return self

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        return self.link_.decision_function(self.score(X).reshape(-1, 1))


class LightGBMScorer:
    def __init__(
        self,
        features: Sequence[str],
        categorical: Sequence[str],
        params: dict[str, Any],
        num_boost_round: int,
        seed: int,
    ) -> None:
        self.features = list(features)
        self.categorical = [c for c in categorical if c in self.features]
        self.params = {**params, **LIGHTGBM_FIXED, "seed": seed}
        self.num_boost_round = num_boost_round

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LightGBMScorer:
        data = lgb.Dataset(
            X[self.features], label=y, categorical_feature=self.categorical or "auto", free_raw_data=True
        )
        self.booster_ = lgb.train(self.params, data, num_boost_round=self.num_boost_round)
        return self

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(X[self.features], raw_score=True), dtype=float)


def make_scorer(
    variant: str,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    roles: dict[str, Any],
    params: dict[str, Any],
    seed: int,
) -> LogisticScorer | ScoreRuleScorer | LightGBMScorer:
    """Build the unfitted scorer for ``variant``; ``roles`` names age, sex, fall and deficit features."""
    params = dict(params)
    if variant in ("age_sex_logistic", "logistic", "previous_fall_rule", "deficit_score"):
        allowed = {"C"} if "logistic" in variant else set()
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise parameter_error(f"model.params for {variant}", f"only {sorted(allowed)}", unknown)
    if variant == "age_sex_logistic":
        cols = [c for c in (roles["age"], roles["sex"]) if c]
        if not cols:
            raise ModelError("No age or sex feature found for the age-sex baseline; name them in the "
                             "experiment's features.age / features.sex.")
        return LogisticScorer(cols, categorical, C=float(params.pop("C", np.inf)), seed=seed)
    if variant == "logistic":
        return LogisticScorer(features, categorical, C=float(params.pop("C", 0.1)), seed=seed)
    if variant == "previous_fall_rule":
        if not roles["falls"]:
            raise ModelError("No fall-evidence features found for the previous-fall rule; name them in "
                             "the experiment's features.falls.")
        return ScoreRuleScorer(roles["falls"], reduce="sum")
    if variant == "deficit_score":
        if not roles["deficits"]:
            raise ModelError("No deficit features found for the deficit score; name them in the "
                             "experiment's features.deficits.")
        return ScoreRuleScorer(roles["deficits"], reduce="mean")
    if variant in ("lightgbm", "lightgbm_tuned"):
        rounds = int(params.pop("num_boost_round", 100))
        return LightGBMScorer(features, categorical, params, num_boost_round=rounds, seed=seed)
    raise parameter_error("model kind", f"one of {list(VARIANTS)}", variant)
