"""Realised performance of one scored month, with seeded 95% bootstrap intervals.

The metrics are scikit-learn's (``roc_auc_score``, ``average_precision_score``) and the training
evaluation's own calibration fit (``modelling.evaluation.calibration_fit``: logit P(y) = a + b
logit(p)); observed/expected is events over the sum of predicted risk. Intervals are percentile
bootstraps over people (one row per person in a scored month), drawn with a seeded numpy
generator, so a rerun on the same inputs gives the same intervals. Rates of a small group use the
Wilson interval, observed/expected of a tier the exact Poisson (Garwood) interval of its events.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest, chi2
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from falls_risk.modelling.evaluation import calibration_fit

Interval = tuple[float | None, float | None]


def _both_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < int(y.sum()) < len(y)


def _point(y: np.ndarray, p: np.ndarray, flagged: np.ndarray | None, calibration: bool) -> dict[str, float]:
    out: dict[str, float] = {
        "auroc": float(roc_auc_score(y, p)),
        "auprc": float(average_precision_score(y, p)),
        "observed_expected": float(y.sum() / p.sum()) if p.sum() > 0 else float("nan"),
    }
    if calibration:
        out["calibration_intercept"], out["calibration_slope"] = calibration_fit(y, p)
    if flagged is not None:
        out["ppv"] = float(y[flagged].mean()) if flagged.any() else float("nan")
        out["sensitivity"] = float(y[flagged].sum() / y.sum())
    return out


def metrics_with_intervals(
    y: Any, p: Any, flagged: Any = None, *, n_bootstrap: int = 200, seed: int = 0, calibration: bool = True
) -> dict[str, float | None]:
    """Point metrics with ``<metric>_ci_low`` / ``_ci_high``; None where a metric cannot be had
    (one outcome class only)."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    flags = None if flagged is None else np.asarray(flagged, dtype=bool)
    if not _both_classes(y):
        names = ["auroc", "auprc", *(["calibration_intercept", "calibration_slope"] if calibration else []),
                 *(["ppv", "sensitivity"] if flags is not None else [])]
        out: dict[str, float | None] = {n: None for n in names}
        out["observed_expected"] = float(y.sum() / p.sum()) if p.sum() > 0 else None
        return out
    point = _point(y, p, flags, calibration)
    rng = np.random.default_rng(seed)
    boot = []
    with threadpool_limits(limits=1):  # small fits: thread pools only slow them on shared cores
        for _ in range(n_bootstrap):
            draw = rng.integers(0, len(y), len(y))
            if _both_classes(y[draw]):
                boot.append(_point(y[draw], p[draw], None if flags is None else flags[draw], calibration))
    out = {}
    for name, value in point.items():
        out[name] = None if np.isnan(value) else value
        values = np.array([b[name] for b in boot], dtype=float)
        values = values[~np.isnan(values)]
        out[f"{name}_ci_low"] = float(np.percentile(values, 2.5)) if len(values) else None
        out[f"{name}_ci_high"] = float(np.percentile(values, 97.5)) if len(values) else None
    return out


def wilson(events: int, n: int) -> Interval:
    """95% Wilson interval of a proportion (None when there is nobody)."""
    if n == 0:
        return None, None
    ci = binomtest(int(events), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def observed_expected_interval(events: int, expected: float) -> Interval:
    """95% exact Poisson interval of events / expected."""
    if expected <= 0:
        return None, None
    low = chi2.ppf(0.025, 2 * events) / 2 if events > 0 else 0.0
    high = chi2.ppf(0.975, 2 * (events + 1)) / 2
    return float(low / expected), float(high / expected)


def rate_difference(y_a: Any, y_b: Any, *, n_bootstrap: int = 200, seed: int = 0) -> dict[str, float | None]:
    """Rate in ``a`` minus rate in ``b`` with a seeded bootstrap interval (each group resampled)."""
    a, b = np.asarray(y_a, dtype=float), np.asarray(y_b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return {"difference": None, "ci_low": None, "ci_high": None}
    rng = np.random.default_rng(seed)
    diffs = [a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))].mean()
             for _ in range(n_bootstrap)]
    return {"difference": float(a.mean() - b.mean()), "ci_low": float(np.percentile(diffs, 2.5)),
            "ci_high": float(np.percentile(diffs, 97.5))}
