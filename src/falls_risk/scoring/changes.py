"""What changed since the previous run: who entered or left the flagged tier, and who rose most.

A riser's explanation is the difference of contribution vectors: the current model's
contributions (log-odds) for their features this month minus those for their features at the
previous run (both runs keep their feature table, so this works for everyone in both runs, not
only for people who were explained). These differences add up exactly to the change in the
model's log-odds, so the largest ones are why the score moved. If the model itself changed
between runs, that part of the rise is reported separately (``model_change_points``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from falls_risk.scoring.tiers import HIGH

ENTERED = "entered"
LEFT = "left"


def tier_changes(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Entrants to and leavers from the flagged (``high``) tier.

    Both frames need ``person_key``, ``probability`` and ``tier``. A leaver who is not in the
    current population at all (died, moved away, deregistered) has ``tier_now`` null and
    ``note`` "no longer eligible".
    """
    cols = ["person_key", "probability", "tier"]
    merged = previous[cols].merge(
        current[cols], on="person_key", how="outer", suffixes=("_before", "_now"), indicator=True
    )
    was = merged["tier_before"].astype("string") == HIGH
    now = merged["tier_now"].astype("string") == HIGH
    entered = merged[now.fillna(False) & ~was.fillna(False)].assign(change=ENTERED)
    left = merged[was.fillna(False) & ~now.fillna(False)].assign(change=LEFT)
    out = pd.concat([entered, left], ignore_index=True)
    out["note"] = np.where(
        out["_merge"] == "left_only",
        "no longer eligible (died, moved away or deregistered)",
        np.where(out["_merge"] == "right_only", "newly eligible (turned 65 or newly registered)", ""),
    )
    out = out.drop(columns="_merge")
    for col in ("tier_before", "tier_now"):
        out[col] = out[col].astype("string")
    order = ["change", "person_key", "probability_now", "probability_before", "tier_now", "tier_before", "note"]
    return (
        out[order]
        .sort_values(["change", "probability_now", "person_key"], ascending=[True, False, True])
        .reset_index(drop=True)
    )


def biggest_risers(current: pd.DataFrame, previous: pd.DataFrame, n: int = 50) -> pd.DataFrame:
    """The ``n`` people in both runs whose probability rose the most (rises only)."""
    merged = previous[["person_key", "probability", "tier"]].merge(
        current[["person_key", "probability", "tier"]], on="person_key", suffixes=("_before", "_now")
    )
    merged["rise"] = merged["probability_now"] - merged["probability_before"]
    merged = merged[merged["rise"] > 0]
    merged = merged.sort_values(["rise", "person_key"], ascending=[False, True]).head(n)
    for col in ("tier_before", "tier_now"):
        merged[col] = merged[col].astype("string")
    return merged.reset_index(drop=True)


def explain_risers(
    risers: pd.DataFrame,
    contributions_now: pd.DataFrame,
    contributions_before: pd.DataFrame,
    features_now: pd.DataFrame,
    features_before: pd.DataFrame,
    describe: Callable[[str, object, object], str],
    *,
    probability_on_before: pd.Series | None = None,
    top_n: int = 3,
) -> pd.DataFrame:
    """Add ``why`` (plain language), ``feature_change_points`` and ``model_change_points``.

    ``contributions_*`` are indexed by ``person_key`` with one column per feature: the current
    model's log-odds contributions for this run's and the previous run's feature values.
    ``features_*`` are those feature values, indexed by ``person_key``. ``describe(feature,
    before, now)`` words one change. ``probability_on_before`` is the current model's probability
    for the previous run's features: the rise splits into the part due to the person's features
    changing (``probability_now - probability_on_before``) and the part due to the model changing
    (``probability_on_before - probability_before``; zero when the model is the same). Each
    feature's share of the first part is its contribution change scaled to probability points.
    """
    if risers.empty:
        return risers.assign(
            why=pd.Series(dtype="string"),
            feature_change_points=pd.Series(dtype=float),
            model_change_points=pd.Series(dtype=float),
        )
    keys = risers["person_key"]
    diff = contributions_now.reindex(keys).to_numpy(float) - contributions_before.reindex(keys).to_numpy(float)
    names = np.asarray(contributions_now.columns)
    p_now = risers["probability_now"].to_numpy(float)
    if probability_on_before is not None:
        p_mid = probability_on_before.reindex(keys).to_numpy(float)
    else:
        p_mid = risers["probability_before"].to_numpy(float)
    total = np.nansum(diff, axis=1)
    # Secant slope from log-odds to probability along this person's change.
    slope = np.divide(p_now - p_mid, total, out=np.zeros_like(total), where=np.abs(total) > 1e-12)
    whys = []
    for i, key in enumerate(keys):
        row = diff[i]
        parts = []
        for j in np.argsort(-row, kind="stable")[:top_n]:
            if not np.isfinite(row[j]) or row[j] <= 1e-9:
                break
            feature = str(names[j])
            text = describe(feature, features_before.at[key, feature], features_now.at[key, feature])
            points = 100 * row[j] * slope[i]
            parts.append(f"{text} (+{points:.1f} points)" if points >= 0.05 else text)
        whys.append("; ".join(parts) if parts else "no feature rose: the model changed")
    out = risers.copy()
    out["why"] = pd.array(whys, dtype="string")
    out["feature_change_points"] = np.round(100 * (p_now - p_mid), 3)
    out["model_change_points"] = np.round(100 * (p_mid - risers["probability_before"].to_numpy(float)), 3)
    return out


def contribution_columns(frame: pd.DataFrame, feature_names: list[str], prefix: str = "contrib__") -> pd.DataFrame:
    """Select contribution columns ``contrib__<feature>`` as a frame named by feature."""
    cols = {f"{prefix}{name}": name for name in feature_names}
    return frame[list(cols)].rename(columns=cols)


def describe_change_default(units: Mapping[str, str] | None = None) -> Callable[[str, object, object], str]:
    """A plain wording 'feature: before -> now' (used when the registry has no description)."""
    units = units or {}

    def describe(feature: str, before: object, now: object) -> str:
        unit = f" {units[feature]}" if units.get(feature) else ""
        return f"{feature}: {_fmt(before)} → {_fmt(now)}{unit}"

    return describe


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "none recorded"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.1f}"
    return str(value)
