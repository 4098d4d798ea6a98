"""Out-of-time evaluation with person-level bootstrap intervals.

Metrics come from scikit-learn (``roc_auc_score``, ``average_precision_score``,
``brier_score_loss``; calibration intercept and slope from an unpenalised
``LogisticRegression`` of the outcome on logit(p): logit P(y) = a + b logit(p), perfect
calibration is a = 0, b = 1). The expected calibration error (ECE) has no scikit-learn
function: it is the weighted mean |observed - predicted| over 10 equal-count bins of p.

Capacity: at each index date the top 1% / 2% / 5% of the cohort by risk are flagged (the
practitioner list), pooled over the test dates: PPV, sensitivity and the number flagged per
index date. Decision curve: net benefit = TP/N - FP/N * t / (1 - t) at each threshold t.

Intervals: 95% percentile bootstrap that resamples **persons** (each person's rows at all test
dates together), implemented as multinomial person weights passed as ``sample_weight``, so one
resample is one weighted pass of each metric, with a seeded numpy generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from falls_risk.modelling.calibration import PROBABILITY_FLOOR


def _pct(capacity: float) -> str:
    return f"{capacity * 100:g}".replace(".", "_") + "pct"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.log(p / (1 - p))


def calibration_fit(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """(intercept, slope) of the logistic recalibration fit of y on logit(p)."""
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=200)
    lr.fit(_logit(p).reshape(-1, 1), y, sample_weight=w)
    return float(lr.intercept_[0]), float(lr.coef_[0, 0])


def ece_bins(p: np.ndarray, n_bins: int = 10) -> np.ndarray:
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, p, side="left")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: np.ndarray, w: np.ndarray | None = None) -> float:
    w = np.ones(len(y)) if w is None else w
    n_bins = int(bins.max()) + 1
    total = np.bincount(bins, weights=w, minlength=n_bins)
    obs = np.bincount(bins, weights=w * y, minlength=n_bins)
    pred = np.bincount(bins, weights=w * p, minlength=n_bins)
    keep = total > 0
    return float(np.sum(np.abs(obs[keep] - pred[keep])) / total.sum())


def capacity_flags(p: np.ndarray, index_dates: np.ndarray, capacity: float) -> np.ndarray:
    """True for the top ``capacity`` share of rows by p within each index date."""
    ranks = pd.Series(p).groupby(pd.Series(index_dates)).rank(method="first", ascending=False).to_numpy()
    sizes = pd.Series(index_dates).map(pd.Series(index_dates).value_counts()).to_numpy()
    return ranks <= np.maximum(1, np.floor(capacity * sizes))


def lowest_flagged(p: np.ndarray, flagged: np.ndarray) -> float:
    """The lowest probability on the list (the capacity's probability threshold, for the record)."""
    return float(np.min(p[flagged]))


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds: Sequence[float], w: np.ndarray | None = None) -> np.ndarray:
    w = np.ones(len(y)) if w is None else w
    n = w.sum()
    t = np.asarray(thresholds)[:, None]
    flagged = p[None, :] >= t
    tp = (flagged * (w * y)[None, :]).sum(axis=1)
    fp = (flagged * (w * (1 - y))[None, :]).sum(axis=1)
    return tp / n - fp / n * (t[:, 0] / (1 - t[:, 0]))


def decision_curve(y: np.ndarray, p: np.ndarray, thresholds: Sequence[float]) -> pd.DataFrame:
    """Net benefit of the model, of treating everyone and of treating no one, per threshold."""
    t = np.asarray(thresholds, dtype=float)
    prevalence = float(np.mean(y)) if len(y) else 0.0
    return pd.DataFrame({
        "threshold": t,
        "net_benefit_model": net_benefit(y, p, t),
        "net_benefit_treat_all": prevalence - (1 - prevalence) * t / (1 - t),
        "net_benefit_treat_none": 0.0,
    })


def _point_metrics(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None, bins: np.ndarray,
    flags: dict[float, np.ndarray], thresholds: Sequence[float],
) -> dict[str, float]:
    out: dict[str, float] = {
        "auroc": roc_auc_score(y, p, sample_weight=w),
        "auprc": average_precision_score(y, p, sample_weight=w),
        "brier": brier_score_loss(y, p, sample_weight=w),
        "ece": expected_calibration_error(y, p, bins, w),
    }
    out["calibration_intercept"], out["calibration_slope"] = calibration_fit(y, p, w)
    ww = np.ones(len(y)) if w is None else w
    out["prevalence"] = float(np.sum(ww * y) / ww.sum())
    out["mean_predicted"] = float(np.sum(ww * p) / ww.sum())
    out["observed_expected"] = float(np.sum(ww * y) / np.sum(ww * p))
    for capacity, flag in flags.items():
        tp = np.sum(ww * y * flag)
        out[f"ppv_top{_pct(capacity)}"] = float(tp / max(np.sum(ww * flag), 1e-12))
        out[f"sensitivity_top{_pct(capacity)}"] = float(tp / max(np.sum(ww * y), 1e-12))
    nb = net_benefit(y, p, thresholds, w)
    for t, value in zip(thresholds, nb, strict=True):
        out[f"net_benefit_{_pct(t)}"] = float(value)
    return out


@dataclass
class Evaluation:
    metrics: dict[str, float]
    decision_curve: pd.DataFrame
    thresholds: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def evaluate_predictions(
    y: Any,
    p: Any,
    index_dates: Any,
    persons: Any,
    *,
    capacities: Sequence[float] = (0.01, 0.02, 0.05),
    thresholds: Sequence[float] = tuple(round(0.01 * i, 2) for i in range(1, 31)),
    n_bootstrap: int = 200,
    seed: int = 0,
    prefix: str = "test_",
) -> Evaluation:
    """Metrics (named ``test_<metric>``, with ``_ci_low`` / ``_ci_high``) on one prediction set."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    index_dates = np.asarray(index_dates)
    person_codes, person_index = np.unique(np.asarray(persons), return_inverse=True)
    bins = ece_bins(p)
    flags = {c: capacity_flags(p, index_dates, c) for c in capacities}
    n_dates = len(np.unique(index_dates))
    point = _point_metrics(y, p, None, bins, flags, thresholds)
    rng = np.random.default_rng(seed)
    boot: list[dict[str, float]] = []
    # One thread: on shared cores, BLAS/OpenMP thread pools make these small fits 10x slower.
    with threadpool_limits(limits=1):
        for _ in range(n_bootstrap):
            draw = rng.integers(0, len(person_codes), len(person_codes))
            w = np.bincount(draw, minlength=len(person_codes))[person_index].astype(float)
            if np.sum(w * y) == 0 or np.sum(w * (1 - y)) == 0:
                continue
            k = w > 0  # persons not drawn drop out: same result, less work
            boot.append(_point_metrics(
                y[k], p[k], w[k], bins[k], {c: f[k] for c, f in flags.items()}, thresholds
            ))
    metrics: dict[str, float] = {}
    for name, value in point.items():
        metrics[f"{prefix}{name}"] = value
        if boot:
            values = np.array([b[name] for b in boot])
            metrics[f"{prefix}{name}_ci_low"] = float(np.nanpercentile(values, 2.5))
            metrics[f"{prefix}{name}_ci_high"] = float(np.nanpercentile(values, 97.5))
    for capacity, flag in flags.items():
        metrics[f"{prefix}flagged_top{_pct(capacity)}"] = float(flag.sum() / n_dates)
    metrics[f"{prefix}rows"] = float(len(y))
    metrics[f"{prefix}events"] = float(y.sum())
    curve = decision_curve(y, p, thresholds)
    if boot:
        nb_boot = np.array([[b[f"net_benefit_{_pct(x)}"] for x in thresholds] for b in boot])
        curve["net_benefit_model_ci_low"] = np.percentile(nb_boot, 2.5, axis=0)
        curve["net_benefit_model_ci_high"] = np.percentile(nb_boot, 97.5, axis=0)
    return Evaluation(
        metrics=metrics,
        decision_curve=curve,
        thresholds={_pct(c): lowest_flagged(p, flags[c]) for c in capacities},
        info={"bootstrap_resamples": len(boot), "bootstrap_unit": "person", "index_dates": n_dates},
    )
