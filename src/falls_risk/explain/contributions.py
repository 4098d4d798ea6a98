"""The numbers behind every reason: SHAP contributions of the LightGBM model, checked.

Contributions are computed on the model's log-odds scale (exact Tree SHAP, ``tree_path_dependent``),
checked for additivity against the model's raw margin (contributions + expected value = raw
margin), and also put on the probability scale that practitioners read ("points").

Two backends compute the same numbers: shap's ``TreeExplainer`` and LightGBM's own
``Booster.predict(pred_contrib=True)``. ``bench/bench_explain.py`` times both on a realistic model
and checks they agree; ``backend="auto"`` uses the faster, LightGBM's. Measured here (shap 0.51):
for a LightGBM booster with ``tree_path_dependent`` and no background data, ``TreeExplainer``
itself calls ``pred_contrib`` (so the two agree exactly and shap only adds the cost of parsing
the model dump), and shap's own C++ Tree SHAP on its parsed trees agrees with LightGBM only
when the model has no categorical splits: it mis-encodes LightGBM's categorical thresholds. So
LightGBM's implementation (exact for categorical splits, multithreaded) is the one used.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.errors import ModelError, format_examples, parameter_error

BACKENDS = ("auto", "pred_contrib", "shap")
# The measured faster backend (bench/bench_explain.py); "auto" resolves to it.
FASTEST_BACKEND = "pred_contrib"
# Contributions + expected value must equal the raw margin within this (log-odds).
ADDITIVITY_TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------
# The model, as explain needs it
# --------------------------------------------------------------------------------------------


def _booster(model: Any) -> Any:
    """The lightgbm.Booster inside a FallsRiskModel, an LGBMClassifier, or a Booster itself."""
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        return model
    booster = getattr(model, "booster_", None)
    if isinstance(booster, lightgbm.Booster):
        return booster
    raise ModelError(
        f"Cannot explain a {type(model).__name__}: SHAP reasons need a tree model with a LightGBM "
        "booster (`booster_`). Explain the LightGBM model, not a baseline."
    )


def feature_names(model: Any) -> list[str]:
    """The model's feature columns, in the order it was trained on."""
    names = getattr(model, "feature_names_", None)
    if names is None:
        names = _booster(model).feature_name()
    return list(names)


def _raw_margin(model: Any, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "raw_margin"):
        return np.asarray(model.raw_margin(X), dtype=float).reshape(-1)
    return np.asarray(_booster(model).predict(X, raw_score=True), dtype=float).reshape(-1)


def _probability(model: Any, X: pd.DataFrame) -> np.ndarray:
    """The model's (calibrated) probability of the positive class, 1-D."""
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        return np.asarray(model.predict(X), dtype=float).reshape(-1)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    return proba[:, -1] if proba.ndim == 2 else proba


def _margin_to_probability(model: Any, margin: np.ndarray) -> np.ndarray:
    """Map log-odds to the model's reported probability (calibrated where the model says how)."""
    margin = np.asarray(margin, dtype=float)
    calibrator = getattr(model, "calibrator_", None)
    if calibrator is not None:
        return np.asarray(calibrator.predict(margin.reshape(-1)), dtype=float).reshape(margin.shape)
    return 1.0 / (1.0 + np.exp(-margin))


def feature_frame(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """The model's feature columns of ``X`` in training order; a clear error if any are absent."""
    if not isinstance(X, pd.DataFrame):
        raise parameter_error("X", "a pandas DataFrame with the model's feature columns", type(X).__name__)
    names = feature_names(model)
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise ModelError(
            f"The rows to explain lack {len(missing)} of the model's feature columns: "
            f"{format_examples(missing)}. Build them with the same feature registry the model was "
            "trained on (`falls-risk features`)."
        )
    # As the model reads them: float64, categoricals as integer codes (never a category dtype).
    return X.loc[:, names].astype("float64")


# --------------------------------------------------------------------------------------------
# The two backends
# --------------------------------------------------------------------------------------------


def import_shap() -> Any:
    """shap, imported without its own deprecation chatter (matplotlib colour-map notices).

    ``falls_risk.explain`` is the only package that imports shap; everything else asks here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap
    return shap


def _contributions_pred_contrib(booster: Any, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    out = np.asarray(booster.predict(X, pred_contrib=True), dtype=float)
    if out.ndim != 2 or out.shape[1] != X.shape[1] + 1:
        raise ModelError(
            f"LightGBM returned contributions of shape {out.shape} for {X.shape[1]} features; "
            "only binary models can be explained."
        )
    bias = out[:, -1]
    return out[:, :-1], float(bias[0]) if len(bias) else float("nan")


def _contributions_shap(booster: Any, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    shap = import_shap()
    explainer = shap.TreeExplainer(booster, feature_perturbation="tree_path_dependent")
    with warnings.catch_warnings():
        # shap announces its (long-standing) list-of-arrays output for LightGBM; handled below.
        warnings.filterwarnings("ignore", message=".*output has changed to a list of ndarray")
        values = explainer.shap_values(X, check_additivity=False)
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values, dtype=float)
    expected = np.asarray(explainer.expected_value, dtype=float).reshape(-1)
    return values, float(expected[-1])


def compute_contributions(model: Any, X: pd.DataFrame, *, backend: Any = "auto") -> tuple[pd.DataFrame, float]:
    """Log-odds contributions (one column per feature, ``X``'s index) and the expected value.

    ``backend`` may also be a callable ``(booster, features) -> (values, expected value)`` that
    computes ``pred_contrib`` elsewhere (``scoring.on_spark.SparkContributions``: per partition)."""
    if callable(backend):
        features = feature_frame(model, X)
        if len(features) == 0:
            return pd.DataFrame(columns=features.columns, index=features.index, dtype=float), float("nan")
        values, expected = backend(_booster(model), features)
        return pd.DataFrame(values, index=features.index, columns=features.columns), expected
    if backend not in BACKENDS:
        raise parameter_error("backend", f"one of {BACKENDS}", backend)
    features = feature_frame(model, X)
    booster = _booster(model)
    resolved = FASTEST_BACKEND if backend == "auto" else backend
    if len(features) == 0:
        return pd.DataFrame(columns=features.columns, index=features.index, dtype=float), float("nan")
    if resolved == "shap":
        values, expected = _contributions_shap(booster, features)
    else:
        values, expected = _contributions_pred_contrib(booster, features)
    return pd.DataFrame(values, index=features.index, columns=features.columns), expected


def check_additivity(
    contributions: pd.DataFrame, expected_value: float, raw_margin: np.ndarray, *, tolerance: float = ADDITIVITY_TOLERANCE
) -> float:
    """Raise unless contributions + expected value equal the raw margin; return the largest gap."""
    if len(contributions) == 0:
        return 0.0
    total = contributions.to_numpy(dtype=float).sum(axis=1) + expected_value
    gap = np.abs(total - np.asarray(raw_margin, dtype=float))
    worst = int(np.argmax(gap))
    if not np.isfinite(gap[worst]) or gap[worst] > tolerance:
        raise ModelError(
            f"SHAP contributions do not add up to the model's raw margin: row {contributions.index[worst]!r} "
            f"is off by {gap[worst]:.3g} log-odds (tolerance {tolerance:g}). The model and its booster "
            "disagree; retrain or re-register the model."
        )
    return float(gap[worst])


def backends_agree(model: Any, X: pd.DataFrame, *, tolerance: float = ADDITIVITY_TOLERANCE) -> float:
    """Largest difference between shap's TreeExplainer and LightGBM's pred_contrib on ``X``."""
    a, ev_a = compute_contributions(model, X, backend="shap")
    b, ev_b = compute_contributions(model, X, backend="pred_contrib")
    diff = max(float(np.abs(a.to_numpy() - b.to_numpy()).max(initial=0.0)), abs(ev_a - ev_b))
    if diff > tolerance:
        raise ModelError(
            f"shap's TreeExplainer and LightGBM's pred_contrib disagree by up to {diff:.3g} log-odds "
            f"(tolerance {tolerance:g}); use backend='pred_contrib' and report this model."
        )
    return diff


# --------------------------------------------------------------------------------------------
# Everything a set of people's explanation rests on
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contributions:
    """Checked contributions for a set of people, on both scales (see ``contributions_for``)."""

    contributions: pd.DataFrame  # log-odds, one row per person, one column per feature
    expected_value: float
    raw_margin: pd.Series
    probability: pd.Series
    base_probability: float
    probability_contributions: pd.DataFrame  # add up to probability - base_probability
    values: pd.DataFrame  # the features as the model read them
    backend: str
    additivity_gap: float


def contributions_for(
    model: Any, X: pd.DataFrame, *, backend: Any = "auto", tolerance: float = ADDITIVITY_TOLERANCE
) -> Contributions:
    """Contributions of ``model``'s features for the rows of ``X``, checked for additivity and
    also on the probability scale. Raises ModelError if they do not add up within ``tolerance``."""
    features = feature_frame(model, X)
    resolved = getattr(backend, "name", FASTEST_BACKEND) if callable(backend) else (
        FASTEST_BACKEND if backend == "auto" else backend)
    contributions, expected = compute_contributions(model, features, backend=backend)
    margin = _raw_margin(model, features) if len(features) else np.empty(0)
    gap = check_additivity(contributions, expected, margin, tolerance=tolerance)
    probability = _probability(model, features) if len(features) else np.empty(0)
    base = float(_margin_to_probability(model, np.array([expected]))[0]) if len(features) else float("nan")
    return Contributions(
        contributions=contributions,
        expected_value=expected,
        raw_margin=pd.Series(margin, index=features.index, name="raw_margin"),
        probability=pd.Series(probability, index=features.index, name="probability"),
        base_probability=base,
        probability_contributions=_probability_scale(model, contributions, expected, margin, probability, base),
        values=features,
        backend=resolved,
        additivity_gap=gap,
    )


def _probability_scale(
    model: Any,
    contributions: pd.DataFrame,
    expected: float,
    margin: np.ndarray,
    probability: np.ndarray,
    base: float,
) -> pd.DataFrame:
    """Scale each person's log-odds contributions by the secant slope of their probability.

    The secant slope (p - p0) / (margin - expected value) maps the log-odds path from the average
    person to this person onto the probability scale, so a person's probability contributions add
    up to ``probability - base_probability`` and keep the sign and ranking of the log-odds ones.
    For the sigmoid the slope is at most 0.25, so no contribution is inflated by cancellation.
    """
    if len(contributions) == 0:
        return contributions.copy()
    delta = margin - expected
    near = np.abs(delta) < 1e-9
    safe = np.where(near, 1.0, delta)
    slope = (probability - base) / safe
    if near.any():
        # The derivative at the expected value, where the secant is undefined.
        h = 1e-5
        d = (_margin_to_probability(model, np.array([expected + h]))[0] - _margin_to_probability(
            model, np.array([expected - h]))[0]) / (2 * h)
        slope = np.where(near, d, slope)
    return contributions.mul(slope, axis=0)
