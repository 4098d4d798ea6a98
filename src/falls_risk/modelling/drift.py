"""Drift reference: what each feature and the score looked like on the out-of-time test set.

Stored on the model (``FallsRiskModel.reference_``) and logged with the run as
``reference.json``. Plain JSON-able data, so monthly scoring can compare a new month against it
without the training data::

    {"bins": 10, "rows": n,
     "features": {name: {"kind": "numeric", "edges": [...], "proportions": [...], "missing": p}
                  | {"kind": "categorical", "codes": [...], "labels": [...], "proportions": [...],
                     "missing": p}},
     "score": {"edges": [...], "proportions": [...], "mean": m, "quantiles": {"0.5": ..., ...}}}

Numeric edges are interior cut points (quantiles of the reference); bin i holds values in
``(edges[i-1], edges[i]]``, so there are ``len(edges) + 1`` proportions. ``psi`` scores a new
sample against an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.features.spec import FeatureSpec

_EPS = 1e-4


def _numeric_entry(values: np.ndarray, bins: int) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    missing = float(np.isnan(values).mean()) if len(values) else 0.0
    if len(present) == 0:
        return {"kind": "numeric", "edges": [], "proportions": [], "missing": missing}
    qs = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(qs)
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "edges": [float(e) for e in edges],
        "proportions": [float(c) / len(values) for c in counts],
        "missing": missing,
    }


def _categorical_entry(values: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    present = values[~np.isnan(values)].astype(int)
    codes = sorted(set(range(len(labels))) | set(present.tolist()))
    n = max(len(values), 1)
    return {
        "kind": "categorical",
        "codes": codes,
        "labels": [labels[c] if 0 <= c < len(labels) else str(c) for c in codes],
        "proportions": [float((present == c).sum()) / n for c in codes],
        "missing": float(np.isnan(values).mean()) if len(values) else 0.0,
    }


def build_reference(
    X: pd.DataFrame, specs: Sequence[FeatureSpec], scores: np.ndarray, bins: int = 10
) -> dict[str, Any]:
    features: dict[str, Any] = {}
    for spec in specs:
        values = X[spec.name].to_numpy(dtype=float, na_value=np.nan)
        features[spec.name] = (
            _categorical_entry(values, spec.categories) if spec.is_categorical else _numeric_entry(values, bins)
        )
    scores = np.asarray(scores, dtype=float)
    score = _numeric_entry(scores, bins)
    score.pop("missing")
    score["kind"] = "score"
    score["mean"] = float(scores.mean()) if len(scores) else float("nan")
    score["quantiles"] = {
        str(q): float(np.quantile(scores, q)) for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99)
    }
    return {"bins": bins, "rows": len(X), "features": features, "score": score}


def binned_proportions(entry: dict[str, Any], values: Any) -> tuple[list[float], list[float]]:
    """Proportions of ``values`` in the entry's bins (plus a missing bin): (reference, new)."""
    arr = pd.Series(values).to_numpy(dtype=float, na_value=np.nan)
    n = max(len(arr), 1)
    missing_new = float(np.isnan(arr).sum()) / n
    present = arr[~np.isnan(arr)]
    if entry["kind"] == "categorical":
        codes = entry["codes"]
        new = [float((present == c).sum()) / n for c in codes]
        other = float((~np.isin(present, codes)).sum()) / n
        return list(entry["proportions"]) + [0.0, entry["missing"]], new + [other, missing_new]
    edges = np.asarray(entry["edges"], dtype=float)
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    new = [float(c) / n for c in counts]
    return list(entry["proportions"]) + [entry.get("missing", 0.0)], new + [missing_new]


def psi(entry: dict[str, Any], values: Any) -> float:
    """Population stability index of ``values`` against a reference entry (0.1 notable, 0.25 large)."""
    ref, new = binned_proportions(entry, values)
    r = np.asarray(ref) + _EPS
    q = np.asarray(new) + _EPS
    return float(np.sum((q - r) * np.log(q / r)))
