"""The latest monthly run, as notifications see it: each person's risk, tier and reasons.

The run is found through the ledger (the latest as-of date; of its month, the last recorded run),
and read through the catalog: ``scores`` (everyone eligible: person_key, probability, tier,
reasons for the people explained). A ``suggested_actions`` column, where a run has one, is
carried through; otherwise the field stays empty (nothing is derived here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.catalog import LINKAGE_MODEL, SCORES
from falls_risk.errors import NotifyError
from falls_risk.scoring import ledger
from falls_risk.workspace import Workspace

SCORE_COLUMNS = ("person_key", "probability", "tier", "reasons", "suggested_actions")


@dataclass(frozen=True)
class LatestRun:
    month: str
    as_of: str
    folder: Path
    entry: dict[str, Any]
    scores: pd.DataFrame  # SCORE_COLUMNS, one row per person_key

    @property
    def model_uri(self) -> str:
        model = self.entry.get("model") or {}
        if model.get("name") and model.get("version"):
            return f"models:/{model['name']}/{model['version']}"
        return str(self.entry.get("model_uri"))


def latest_run(root: Path) -> LatestRun:
    """The run notifications take risk from; an error naming what to do when there is none."""
    entries = ledger.verify_ledger(root)
    if not entries:
        raise NotifyError(
            f"{root} holds no recorded monthly run (no ledger entries): notifications need each person's "
            "current risk. Run `falls-risk score --out RUNS_DIR/YYYY-MM` first, then notify with --runs RUNS_DIR."
        )
    latest_as_of = max(e["as_of"] for e in entries)
    entry = [e for e in entries if e["as_of"] == latest_as_of][-1]
    folder = Path(root) / entry["output_dir"]
    if not SCORES.exists(folder):
        raise NotifyError(
            f"{SCORES.path(folder)} is missing, but the ledger records the run of {entry['month']} there. Restore "
            "the run folder, or re-run `falls-risk score` for that month."
        )
    present = set(SCORES.columns(folder))
    scores = SCORES.load(folder, columns=[c for c in SCORE_COLUMNS if c in present])
    for column in ("reasons", "suggested_actions"):
        if column not in scores.columns:
            scores[column] = ""
    scores["tier"] = scores["tier"].astype("object")
    scores["reasons"] = scores["reasons"].fillna("").astype(str)
    scores["suggested_actions"] = scores["suggested_actions"].fillna("").astype(str)
    scores = scores.drop_duplicates("person_key").reset_index(drop=True)
    return LatestRun(month=entry["month"], as_of=entry["as_of"], folder=folder, entry=entry,
                     scores=scores[list(SCORE_COLUMNS)])


def linkage_model_into(ws: Workspace, run: LatestRun, given: Path | None, tracking_uri: str | None) -> Path:
    """The Splink model to link the delivery with: the one given, else the one recorded with the
    training of the model the latest run used (loaded from MLflow). Never trained here."""
    if given is not None:
        if not Path(given).exists():
            raise NotifyError(f"--linkage-model {given} does not exist. Check the path.")
        return Path(given)
    from falls_risk import tracking
    from falls_risk.modelling.registered import load_registered

    tracking.configure(tracking_uri)
    registered = load_registered(run.model_uri)
    training = registered.training
    if training is None or training.data.linkage_model is None:
        raise NotifyError(
            f"{run.model_uri} (used by the run of {run.month}) records no linkage model, and notify never trains "
            "one. Pass --linkage-model with the Splink model JSON the monthly run linked with."
        )
    LINKAGE_MODEL.save(ws, training.data.linkage_model)
    return LINKAGE_MODEL.path(ws)
