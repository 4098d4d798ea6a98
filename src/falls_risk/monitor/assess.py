"""One scored month against its outcomes: the ``months`` entry of monitor.json.

Everything here is computed on the people the run scored whose outcome the latest extract knows
(``n_outcomes``; people who died are outcomes too, people who moved away are censored, as in
training). For a month whose window is still open, the outcome is a fall admission in the elapsed
part of the window, and the expected risk over that part is 1 - (1 - p) ** share (a constant
monthly hazard), so observed/expected stays comparable; AUROC does not depend on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from falls_risk.actions.validate import ACTED_ON
from falls_risk.features.registry import FEATURES
from falls_risk.modelling.fairness import subgroup_columns
from falls_risk.modelling.roles import resolve_roles
from falls_risk.monitor.metrics import (
    metrics_with_intervals,
    observed_expected_interval,
    rate_difference,
    wilson,
)
from falls_risk.monitor.outcomes import OutcomeWindow
from falls_risk.scoring.tiers import HIGH, TIERS

HOLDOUT, ACTED, NOT_ACTED = "holdout", "acted on", "not acted on"
MIN_GROUP_EVENTS = 1  # below this a group's AUROC is not computed (one class only)


def expected_over(window: OutcomeWindow, probability: np.ndarray) -> np.ndarray:
    """The predicted risk over the elapsed share of the window (the probability itself when complete)."""
    return probability if window.complete else 1.0 - (1.0 - probability) ** window.share


def _tiers(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for tier in TIERS:
        part = frame[frame["tier"] == tier]
        if part.empty:
            continue
        events, expected = int(part["label"].sum()), float(part["expected"].sum())
        low, high = observed_expected_interval(events, expected)
        rows.append({"tier": tier, "n": len(part), "events": events, "expected": expected,
                     "observed_expected": events / expected if expected > 0 else None,
                     "observed_expected_ci_low": low, "observed_expected_ci_high": high})
    return rows


def _subgroups(frame: pd.DataFrame, n_bootstrap: int, seed: int) -> list[dict[str, Any]]:
    groups = subgroup_columns(frame, tuple(FEATURES), resolve_roles(tuple(FEATURES)))
    rows = []
    for attribute in groups.columns:
        for group, index in groups.groupby(attribute).groups.items():
            part = frame.loc[index]
            metrics = metrics_with_intervals(part["label"], part["expected"], n_bootstrap=n_bootstrap, seed=seed,
                                             calibration=False)
            rows.append({"attribute": attribute, "group": str(group), "n": len(part),
                         "events": int(part["label"].sum()),
                         **{k: metrics.get(k) for k in ("auroc", "auroc_ci_low", "auroc_ci_high",
                                                        "observed_expected", "observed_expected_ci_low",
                                                        "observed_expected_ci_high")}})
    return rows


def action_groups(flagged: pd.DataFrame, actions: pd.DataFrame, month: str) -> pd.Series:
    """Each flagged person's group: holdout, acted on (an intervention recorded for this month's
    list) or not acted on."""
    acted = set(actions.loc[(actions["month"] == month) & actions["action"].isin(ACTED_ON), "person_key"])
    group = np.where(flagged["holdout"], HOLDOUT, np.where(flagged["person_key"].isin(acted), ACTED, NOT_ACTED))
    return pd.Series(group, index=flagged.index)


def _by_action(frame: pd.DataFrame, actions: pd.DataFrame, month: str, n_bootstrap: int, seed: int
               ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    flagged = frame[frame["tier"] == HIGH]
    groups = action_groups(flagged, actions, month)
    rows = []
    for name in (ACTED, NOT_ACTED, HOLDOUT):
        part = flagged[groups == name]
        if part.empty:
            continue
        events, expected = int(part["label"].sum()), float(part["expected"].sum())
        low, high = wilson(events, len(part))
        rows.append({"group": name, "n": len(part), "events": events, "rate": events / len(part),
                     "rate_ci_low": low, "rate_ci_high": high, "expected": expected,
                     "observed_expected": events / expected if expected > 0 else None})
    holdout = flagged[groups == HOLDOUT]
    if holdout.empty:
        return rows, None
    listed = flagged[groups != HOLDOUT]
    effect = rate_difference(listed["label"], holdout["label"], n_bootstrap=n_bootstrap, seed=seed)
    return rows, {"comparison": "listed minus held out (randomised, intention to treat)",
                  "n_listed": len(listed), "n_holdout": len(holdout), **effect}


def assess_month(
    entry: dict[str, Any], scores: pd.DataFrame, outcomes: pd.DataFrame | None, window: OutcomeWindow,
    actions: pd.DataFrame, *, n_bootstrap: int = 200, seed: int = 0,
) -> dict[str, Any]:
    """The month's entry: counts, window, metrics with intervals, tiers, subgroups, outcomes by action."""
    month = {
        "month": entry["month"], "as_of": entry["as_of"],
        "model": {k: entry.get("model", {}).get(k) for k in ("name", "version", "run_id")},
        "window_complete": window.complete, "partial": not window.complete,
        "horizon_days": window.horizon_days, "elapsed_days": max(0, window.elapsed_days),
        "n_scored": len(scores), "n_flagged": int((scores["tier"] == HIGH).sum()),
        "n_holdout": int(scores["holdout"].sum()),
    }
    if outcomes is None or not window.started:
        return month | {"n_outcomes": 0, "n_events": 0, "auroc": None, "auroc_ci_low": None, "auroc_ci_high": None,
                        "observed_expected": None, "note": "no follow-up in the extract yet"}
    frame = scores.merge(outcomes.drop(columns=["probability", "tier", "holdout"], errors="ignore"),
                         on="person_key", how="inner")
    frame = frame[frame["label"].notna()].reset_index(drop=True)
    frame["label"] = frame["label"].astype(int)
    frame["expected"] = expected_over(window, frame["probability"].to_numpy(dtype=float))
    flagged = (frame["tier"] == HIGH).to_numpy()
    metrics = metrics_with_intervals(frame["label"], frame["expected"], flagged, n_bootstrap=n_bootstrap, seed=seed)
    by_action, holdout_effect = _by_action(frame, actions, entry["month"], n_bootstrap, seed)
    return month | {
        "n_outcomes": len(frame), "n_events": int(frame["label"].sum()),
        "expected_events": float(frame["expected"].sum()),
        **{k: v for k, v in metrics.items() if not k.startswith(("ppv", "sensitivity"))},
        "flagged": {"n": int(flagged.sum()), "events": int(frame.loc[flagged, "label"].sum()),
                    **{k: v for k, v in metrics.items() if k.startswith(("ppv", "sensitivity"))}},
        "by_tier": _tiers(frame),
        "subgroups": _subgroups(frame, n_bootstrap, seed),
        "by_action": by_action,
        "holdout_effect": holdout_effect,
        "by_action_is_causal": holdout_effect is not None,
    }
