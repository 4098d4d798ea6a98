"""Reading the feature table and splitting it in time and by person.

Split (``temporal_split``):

* rows whose label is not yet known (null) are dropped;
* **test** = the index dates in the last ``test_months`` months of labelled index dates
  (out-of-time);
* before that (less ``gap_days``), persons are split at random into **training** and a
  **calibration** slice (``calibration_fraction`` of persons), so no person sits on both sides;
* cross-validation inside training (``person_folds``) is grouped by person too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.errors import ModelError
from falls_risk.features.spec import FeatureSpec
from falls_risk.workspace import Workspace

KEY_COLUMNS = ("person_key", "index_date")
OUTCOME_COLUMNS = ("label", "died_in_window")


def load_features(workspace: str | Path | Workspace, index_dates: Sequence[date] | None = None) -> pd.DataFrame:
    """The feature table (all index dates, or the ones asked for), one row per person per date."""
    from falls_risk.features import load_feature_table  # the features stage's reader (checks registry)

    frame = load_feature_table(workspace, index_dates=list(index_dates) if index_dates else None)
    frame["index_date"] = pd.to_datetime(frame["index_date"]).dt.date
    return frame


def check_feature_frame(frame: pd.DataFrame, specs: Sequence[FeatureSpec], source: str = "feature table") -> None:
    """Every key, outcome and registry column must be present."""
    needed = [*KEY_COLUMNS, "label", *[s.name for s in specs]]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ModelError(
            f"The {source} lacks columns {missing[:8]}{' ...' if len(missing) > 8 else ''}. It was built with "
            "another feature registry: rebuild it with `falls-risk features`."
        )


def feature_table_hash(frame: pd.DataFrame) -> str:
    """A content hash of the rows and columns used (order-independent over rows)."""
    cols = sorted(c for c in frame.columns)
    ordered = frame.sort_values(list(KEY_COLUMNS), kind="stable")[cols]
    digest = hashlib.sha256()
    digest.update("|".join(cols).encode())
    digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def subtract_months(day: date, months: int) -> date:
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


@dataclass
class Split:
    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[frame["label"].notna()].copy()
    out["label"] = out["label"].astype(int)
    return out


def temporal_split(
    frame: pd.DataFrame,
    test_months: int = 12,
    calibration_fraction: float = 0.2,
    gap_days: int = 0,
    seed: int = 0,
) -> Split:
    """Out-of-time test split, then training vs calibration by person (see module docstring)."""
    data = labelled(frame)
    if data.empty:
        raise ModelError("No row of the feature table has a known label: build features for earlier index "
                         "dates (labels need a full year of follow-up before the extract date).")
    dates = sorted(data["index_date"].unique())
    last = dates[-1]
    test_start_exclusive = subtract_months(last, test_months)
    test_dates = [d for d in dates if d > test_start_exclusive]
    train_end = (pd.Timestamp(test_dates[0]) - pd.Timedelta(days=gap_days)).date()
    before = [d for d in dates if d < train_end and d not in test_dates]
    if not before:
        raise ModelError(
            f"Labelled index dates run {dates[0]} to {last}: nothing is left for training before the "
            f"{test_months}-month test period (gap {gap_days} days). Add earlier index dates or lower "
            "split.test_months / split.gap_days."
        )
    pre = data[data["index_date"].isin(before)]
    persons = np.sort(pre["person_key"].unique())
    rng = np.random.default_rng(seed)
    n_cal = max(1, round(calibration_fraction * len(persons)))
    cal_persons = set(rng.choice(persons, size=n_cal, replace=False).tolist())
    in_cal = pre["person_key"].isin(cal_persons)
    split = Split(
        train=pre[~in_cal].reset_index(drop=True),
        calibration=pre[in_cal].reset_index(drop=True),
        test=data[data["index_date"].isin(test_dates)].reset_index(drop=True),
    )
    split.info = {
        "train_index_dates": [d.isoformat() for d in before],
        "test_index_dates": [d.isoformat() for d in test_dates],
        "gap_days": gap_days,
        "rows": {"train": len(split.train), "calibration": len(split.calibration), "test": len(split.test)},
        "persons": {
            "train": int(split.train["person_key"].nunique()),
            "calibration": int(split.calibration["person_key"].nunique()),
            "test": int(split.test["person_key"].nunique()),
        },
        "events": {
            "train": int(split.train["label"].sum()),
            "calibration": int(split.calibration["label"].sum()),
            "test": int(split.test["label"].sum()),
        },
        "unlabelled_rows_dropped": int(len(frame) - len(data)),
    }
    for part in ("train", "calibration", "test"):
        df = getattr(split, part)
        if df.empty or df["label"].nunique() < 2:
            raise ModelError(
                f"The {part} part of the split has {len(df)} rows and {int(df['label'].sum()) if len(df) else 0} "
                "fall admissions; both outcomes are needed. Use more people or index dates."
            )
    return split


def person_folds(frame: pd.DataFrame, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds grouped by person (a person's index dates stay in one fold).

    Persons are dealt at random into ``n_folds`` equal groups. (scikit-learn's
    ``GroupKFold(shuffle=True)`` does the same but took 160 s for 50,000 persons.)
    """
    persons, person_index = np.unique(frame["person_key"].to_numpy(), return_inverse=True)
    if len(persons) < n_folds:
        raise ModelError(f"{len(persons)} persons cannot fill {n_folds} cross-validation folds; lower split.cv_folds.")
    fold_of_person = np.random.default_rng(seed).permutation(len(persons)) % n_folds
    fold = fold_of_person[person_index]
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_folds)]


# --- treatment-aware training (the actions ledger) ----------------------------------------------
INCLUDE, EXCLUDE = "include", "exclude"


def treated_person_months(frame: pd.DataFrame, actions: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """True for each row (person, index date) whose outcome was open to a recorded intervention:
    an acted-on action dated in (index date - horizon, index date + horizon], i.e. during its
    outcome window or within one horizon before it (an intervention's effect lasts about as long
    as the horizon the model predicts over)."""
    from falls_risk.actions.validate import ACTED_ON  # the one vocabulary of what counts as acting

    acted = actions.loc[actions["action"].isin(ACTED_ON), ["person_key", "action_date"]]
    treated = np.zeros(len(frame), dtype=bool)
    if acted.empty or frame.empty:
        return treated
    rows = pd.DataFrame({"row": np.arange(len(frame)), "person_key": frame["person_key"].to_numpy(),
                         "index_date": pd.to_datetime(frame["index_date"]).to_numpy()})
    pairs = rows.merge(acted.assign(action_date=pd.to_datetime(acted["action_date"])), on="person_key")
    days = (pairs["action_date"] - pairs["index_date"]).dt.days
    hit = pairs.loc[(days > -horizon_days) & (days <= horizon_days), "row"].unique()
    treated[hit] = True
    return treated


def apply_treatment_policy(
    frame: pd.DataFrame, actions: pd.DataFrame | None, horizon_days: int, policy: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``frame`` under the experiment's ``treated_person_months`` policy, and what it did (for the
    training record and the model card): ``exclude`` drops treated person-months (the model then
    learns risk without the teams' interventions), ``include`` keeps them as if untreated."""
    if policy not in (INCLUDE, EXCLUDE):
        raise ModelError(f"treated_person_months must be {INCLUDE} or {EXCLUDE}, got {policy!r}.")
    if actions is None:
        return frame, {"policy": policy, "actions_recorded": False, "treated_rows": 0, "treated_persons": 0,
                       "rows_excluded": 0}
    treated = treated_person_months(frame, actions, horizon_days)
    record = {"policy": policy, "actions_recorded": True, "actions": len(actions),
              "treated_rows": int(treated.sum()),
              "treated_persons": int(frame.loc[treated, "person_key"].nunique()),
              "rows_excluded": int(treated.sum()) if policy == EXCLUDE else 0}
    if policy == EXCLUDE:
        return frame.loc[~treated].reset_index(drop=True), record
    return frame, record
