"""Calibration of a model's raw log-odds on a held-out calibration slice.

Two methods, both from scikit-learn: Platt scaling (a logistic regression on the margin) and
isotonic regression. Which one is used is decided by the Brier score *out of sample*: each method
is cross-fitted on folds of the calibration slice grouped by person, so isotonic regression (which
always wins in-sample) does not win by memorising the slice. The winner is then refitted on the
whole slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import GroupKFold

from falls_risk.errors import ModelError, parameter_error

CALIBRATION_METHODS = ("isotonic", "platt")
# Probabilities are kept off exactly 0 and 1 so that log-odds (calibration slope) stay finite.
PROBABILITY_FLOOR = 1e-6


class PlattCalibrator:
    """Logistic recalibration of the margin: p = sigmoid(a + b * margin)."""

    method = "platt"

    def fit(self, margin: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        lr = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000)
        lr.fit(np.asarray(margin, dtype=float).reshape(-1, 1), np.asarray(y, dtype=int))
        self.intercept_ = float(lr.intercept_[0])
        self.coef_ = float(lr.coef_[0, 0])
        return self

    def predict(self, margin: np.ndarray) -> np.ndarray:
        z = self.intercept_ + self.coef_ * np.asarray(margin, dtype=float)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "intercept": self.intercept_, "coef": self.coef_}


class IsotonicCalibrator:
    """Monotone step function of the margin, clipped outside the range seen."""

    method = "isotonic"

    def fit(self, margin: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        self.isotonic_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        self.isotonic_.fit(np.asarray(margin, dtype=float), np.asarray(y, dtype=float))
        return self

    def predict(self, margin: np.ndarray) -> np.ndarray:
        p = self.isotonic_.predict(np.asarray(margin, dtype=float))
        return np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "thresholds": len(self.isotonic_.X_thresholds_),
        }


def make_calibrator(method: str) -> PlattCalibrator | IsotonicCalibrator:
    if method == "platt":
        return PlattCalibrator()
    if method == "isotonic":
        return IsotonicCalibrator()
    raise parameter_error("calibration method", f"one of {list(CALIBRATION_METHODS)}", method)


def choose_calibrator(
    margin: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None = None,
    methods: Sequence[str] = CALIBRATION_METHODS,
    folds: int = 5,
) -> tuple[PlattCalibrator | IsotonicCalibrator, dict[str, float]]:
    """Pick the method with the lowest cross-fitted Brier score, refit it on all of the slice.

    Returns the fitted calibrator and the cross-fitted Brier score of each method.
    """
    margin = np.asarray(margin, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(methods) == 0:
        raise parameter_error("calibration methods", f"a non-empty subset of {list(CALIBRATION_METHODS)}", [])
    if y.sum() == 0 or y.sum() == len(y):
        raise ModelError(
            f"The calibration slice has {len(y)} rows and {int(y.sum())} fall admissions: both outcomes "
            "are needed to calibrate. Use more index dates or a larger split.calibration_fraction."
        )
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    n_groups = len(np.unique(groups))
    scores: dict[str, float] = {}
    if len(methods) > 1 and n_groups >= 2:
        splitter = GroupKFold(n_splits=min(folds, n_groups))
        for method in methods:
            out = np.empty(len(y))
            for train_idx, test_idx in splitter.split(margin, y, groups):
                if y[train_idx].min() == y[train_idx].max():
                    out[test_idx] = y[train_idx].mean()
                    continue
                out[test_idx] = make_calibrator(method).fit(margin[train_idx], y[train_idx]).predict(
                    margin[test_idx]
                )
            scores[method] = float(brier_score_loss(y, out))
        best = min(scores, key=scores.__getitem__)
    else:
        best = methods[0]
    return make_calibrator(best).fit(margin, y), scores
