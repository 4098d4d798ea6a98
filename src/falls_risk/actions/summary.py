"""What teams did with each month's list: ``falls-risk actions summary`` and ``last_contacts``.

An action answers the run named by its ``list_month``, else the latest run whose as-of date is on
or before the action's date. A run's *listed* people are its flagged tier shown to practitioners
(a randomised holdout, when drawn, is not listed). Per month and team the summary counts listed
people with an action, acted on (an intervention: :data:`ACTED_ON`) and each action.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from falls_risk.actions.ledger import read_actions
from falls_risk.actions.validate import ACTED_ON, ACTIONS
from falls_risk.catalog import ACTIONS_LEDGER, SCORES
from falls_risk.scoring.ledger import completed, read_ledger
from falls_risk.scoring.tiers import HIGH

ALL_TEAMS = "all teams"
NO_TEAM = "(no team given)"
HOLDOUT_COLUMN = "holdout"


def current_runs(root: str | os.PathLike[str]) -> list[dict]:
    """The current (last completed) run of each month, oldest month first."""
    latest: dict[str, dict] = {}
    for entry in completed(read_ledger(root)):
        latest[entry["month"]] = entry
    return [latest[m] for m in sorted(latest)]


def listed_people(root: str | os.PathLike[str], entry: dict) -> pd.DataFrame:
    """A run's scores (person_key, probability, tier, holdout) with ``listed``: flagged and shown."""
    folder = Path(root) / entry["output_dir"]
    columns = SCORES.columns(folder)
    wanted = ["person_key", "probability", "tier", *([HOLDOUT_COLUMN] if HOLDOUT_COLUMN in columns else [])]
    scores = SCORES.load(folder, columns=wanted)
    if HOLDOUT_COLUMN not in scores.columns:
        scores[HOLDOUT_COLUMN] = False
    scores[HOLDOUT_COLUMN] = scores[HOLDOUT_COLUMN].fillna(False).astype(bool)
    scores["listed"] = (scores["tier"] == HIGH) & ~scores[HOLDOUT_COLUMN]
    return scores


def attribute_actions(actions: pd.DataFrame, runs: list[dict]) -> pd.DataFrame:
    """``actions`` with ``month``: the run each answers (None before the first run)."""
    out = actions.copy()
    starts = sorted((dt.date.fromisoformat(e["as_of"]), e["month"]) for e in runs)

    def month_of(row: pd.Series) -> str | None:
        if isinstance(row["list_month"], str) and row["list_month"]:
            return row["list_month"]
        before = [m for start, m in starts if start <= row["action_date"]]
        return before[-1] if before else None

    out["month"] = out.apply(month_of, axis=1) if len(out) else pd.Series(dtype="object")
    return out


def actions_summary(root: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per month (team ``all teams``) and per month and team: listed, people with an
    action, acted on, not acted on, actions for people not listed, and the count of each action."""
    runs = current_runs(root)
    actions = attribute_actions(read_actions(root), runs)
    actions["team"] = actions["team"].fillna(NO_TEAM)
    rows = []
    for entry in runs:
        scores = listed_people(root, entry)
        listed = set(scores.loc[scores["listed"], "person_key"])
        month = actions[actions["month"] == entry["month"]]
        for team, part in [(ALL_TEAMS, month), *sorted(month.groupby("team"), key=lambda x: x[0])]:
            on_list = part[part["person_key"].isin(listed)]
            acted = set(on_list.loc[on_list["action"].isin(ACTED_ON), "person_key"])
            row = {
                "month": entry["month"], "team": team,
                "listed": len(listed) if team == ALL_TEAMS else None,
                "with_action": on_list["person_key"].nunique(),
                "acted_on": len(acted),
                "not_acted_on": (len(listed) - len(acted)) if team == ALL_TEAMS else None,
                "not_listed": part.loc[~part["person_key"].isin(listed), "person_key"].nunique(),
            }
            row |= {a: int(on_list.loc[on_list["action"] == a, "person_key"].nunique()) for a in ACTIONS}
            rows.append(row)
    return pd.DataFrame(rows, columns=["month", "team", "listed", "with_action", "acted_on", "not_acted_on",
                                       "not_listed", *ACTIONS])


def last_contacts(runs_dir: str | os.PathLike[str]) -> pd.DataFrame | None:
    """Per person_key the last recorded action and its date (``last_action_date``, ``last_action``);
    the latest import wins a tie. For the worklist and the notifications. None when the runs folder
    has no actions ledger (the teams do not record actions here), so nobody reads "no contact"."""
    if not ACTIONS_LEDGER.exists(runs_dir):
        return None
    actions = read_actions(runs_dir)
    ordered = actions.sort_values(["action_date", "import_sequence", "row_number"], kind="stable")
    last = ordered.groupby("person_key", sort=True).tail(1)
    return (last.rename(columns={"action_date": "last_action_date", "action": "last_action"})
            [["person_key", "last_action_date", "last_action"]].reset_index(drop=True))
