"""Subgroup checks with fairlearn's ``MetricFrame``.

Subgroups come from features in the table (via the registry's categories): sex, age band
(65-74 / 75-84 / 85+), WIMD quintile and local authority. For each group: rows, events,
AUROC, observed/expected (events / sum of predicted risk) and the false-negative rate of the
list that flags the top ``capacity`` (2%) of the cohort at each index date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_negative_rate
from sklearn.metrics import roc_auc_score

from falls_risk.features.spec import FeatureSpec

AGE_BANDS = ((65, 74, "65-74"), (75, 84, "75-84"), (85, 200, "85+"))


def age_band(age: pd.Series) -> pd.Series:
    values = pd.to_numeric(age, errors="coerce")
    out = pd.Series("unknown", index=age.index, dtype=object)
    out[values < 65] = "under 65"
    for low, high, label in AGE_BANDS:
        out[(values >= low) & (values <= high)] = label
    return out


def _decode(values: pd.Series, spec: FeatureSpec | None) -> pd.Series:
    codes = pd.to_numeric(values, errors="coerce")
    if spec is not None and spec.is_categorical:
        cats = list(spec.categories)
        return codes.map(lambda c: cats[int(c)] if pd.notna(c) and 0 <= int(c) < len(cats) else "unknown")
    return codes.map(lambda c: str(int(c)) if pd.notna(c) else "unknown")


def subgroup_columns(frame: pd.DataFrame, specs: Sequence[FeatureSpec], roles: dict[str, Any]) -> pd.DataFrame:
    """sex / age_band / wimd_quintile / local_authority as readable labels (roles found only)."""
    by_name = {s.name: s for s in specs}
    out = pd.DataFrame(index=frame.index)
    if roles.get("sex") in frame:
        out["sex"] = _decode(frame[roles["sex"]], by_name.get(roles["sex"]))
    if roles.get("age") in frame:
        out["age_band"] = age_band(frame[roles["age"]])
    if roles.get("wimd_quintile") in frame:
        out["wimd_quintile"] = _decode(frame[roles["wimd_quintile"]], by_name.get(roles["wimd_quintile"]))
    if roles.get("local_authority") in frame:
        out["local_authority"] = _decode(frame[roles["local_authority"]], by_name.get(roles["local_authority"]))
    return out


def _auroc(y_true: Any, y_score: Any) -> float:
    y_true = np.asarray(y_true)
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else float("nan")


def _observed_expected(y_true: Any, y_score: Any) -> float:
    expected = float(np.sum(y_score))
    return float(np.sum(y_true)) / expected if expected > 0 else float("nan")


def _rows(y_true: Any, y_score: Any) -> float:
    return float(len(y_true))


def _events(y_true: Any, y_score: Any) -> float:
    return float(np.sum(y_true))


def subgroup_metrics(
    y: Any, p: Any, groups: pd.DataFrame, flagged: Any
) -> tuple[pd.DataFrame, dict[str, float]]:
    """A long table (attribute, group, rows, events, auroc, observed_expected, false_negative_rate)
    and summary metrics (worst-group gaps) for MLflow.

    ``flagged`` marks the rows on the list at the chosen capacity (``evaluation.capacity_flags``),
    so the false-negative rate is measured at exactly the operating point of the capacity metrics.
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    on_list = {"false_negative_rate": {"flagged": np.asarray(flagged, dtype=bool)}}

    def _fnr(y_true: Any, y_score: Any, flagged: Any) -> float:
        y_true = np.asarray(y_true)
        if y_true.sum() == 0:
            return float("nan")
        return float(false_negative_rate(y_true, np.asarray(flagged).astype(int), pos_label=1))

    metrics = {"rows": _rows, "events": _events, "auroc": _auroc, "observed_expected": _observed_expected,
               "false_negative_rate": _fnr}
    tables = []
    summary: dict[str, float] = {}
    for attribute in groups.columns:
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=groups[attribute],
                            sample_params=on_list)
        table = frame.by_group.reset_index().rename(columns={attribute: "group"})
        table.insert(0, "attribute", attribute)
        tables.append(table)
        # Gaps between the best and worst group, over groups with at least 20 events.
        big = frame.by_group[frame.by_group["events"] >= 20]
        for metric in ("auroc", "observed_expected", "false_negative_rate"):
            values = big[metric].dropna()
            if len(values) >= 2:
                summary[f"test_{metric}_gap_{attribute}"] = float(values.max() - values.min())
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    for _, row in result.iterrows():
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(row["group"]).replace("+", "plus"))
        summary[f"test_auroc_{row['attribute']}_{slug}"] = row["auroc"]
    return result, summary
