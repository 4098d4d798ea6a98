"""What changed since the previous run: who entered or left the flagged tier, and who rose most.

A riser's explanation is the difference of contribution vectors: the current model's
contributions (log-odds) for their features this month minus those for their features at the
previous run. With one model these differences add up exactly to the change in log-odds, so the
largest ones are why the score moved. If the model itself changed between runs, the part of the
change that the features do not explain is reported as ``model_change``.
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


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def explain_risers(
    risers: pd.DataFrame,
    contributions_now: pd.DataFrame,
    contributions_before: pd.DataFrame,
    features_now: pd.DataFrame,
    features_before: pd.DataFrame,
    describe: Callable[[str, object, object], str],
    *,
    top_n: int = 3,
) -> pd.DataFrame:
    """Add ``why`` (plain language) and ``top_changes`` to ``risers``.

    ``contributions_*`` are indexed by ``person_key`` with one column per feature (log-odds, the
    current model on that run's features, without the base value). ``features_*`` are the
    feature values indexed by ``person_key``. ``describe(feature, before, now)`` words one change.
    """
    if risers.empty:
        return risers.assign(why=pd.Series(dtype="string"), model_change=pd.Series(dtype=float))
    keys = risers["person_key"]
    now = contributions_now.reindex(keys)
    before = contributions_before.reindex(keys)
    diff = now.to_numpy(float) - before.to_numpy(float)
    names = np.asarray(contributions_now.columns)
    whys = []
    for i, key in enumerate(keys):
        row = diff[i]
        order = np.argsort(-row, kind="stable")
        parts = []
        for j in order[:top_n]:
            if not np.isfinite(row[j]) or row[j] <= 0:
                break
            feature = str(names[j])
            parts.append(
                describe(feature, features_before.at[key, feature], features_now.at[key, feature])
            )
        whys.append("; ".join(parts) if parts else "no single feature rose; the model changed")
    explained = np.nansum(diff, axis=1)
    total = _logit(risers["probability_now"]) - _logit(risers["probability_before"])
    out = risers.copy()
    out["why"] = pd.array(whys, dtype="string")
    out["feature_change_log_odds"] = explained
    # What the features do not account for: non-zero only when the model changed between runs.
    out["model_change_log_odds"] = np.round(total - explained, 6)
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
