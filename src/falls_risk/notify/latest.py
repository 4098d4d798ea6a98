"""The latest monthly run, as notifications see it: each person's risk, tier and reasons.

The run is found through the ledger, verified (the latest as-of date among completed runs; of
its month, the last),
and read through the catalog: ``scores`` (everyone eligible: person_key, probability, tier,
reasons for the people explained) and ``explanations`` (``suggested_actions``, where the run has
that column, for the people explained; otherwise the field stays empty: nothing is derived here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.catalog import EXPLANATIONS, LINKAGE_MODEL, RUN_FEATURES, SCORES
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


def latest_run(root: Path, secret: bytes | None = None) -> LatestRun:
    """The run notifications take risk from (the ledger verified with ``secret``, the key the runs
    were made with); an error naming what to do when there is none."""
    entries = ledger.completed(ledger.verify_ledger(root, secret))
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
    if "suggested_actions" not in scores.columns and EXPLANATIONS.exists(folder) and \
            "suggested_actions" in EXPLANATIONS.columns(folder):
        actions = EXPLANATIONS.load(folder, columns=["person_key", "suggested_actions"]).drop_duplicates("person_key")
        scores = scores.merge(actions, on="person_key", how="left")
    for column in ("reasons", "suggested_actions"):
        if column not in scores.columns:
            scores[column] = ""
    scores["tier"] = scores["tier"].astype("object")
    scores["reasons"] = scores["reasons"].fillna("").astype(str)
    scores["suggested_actions"] = scores["suggested_actions"].fillna("").astype(str)
    scores = scores.drop_duplicates("person_key").reset_index(drop=True)
    return LatestRun(month=entry["month"], as_of=entry["as_of"], folder=folder, entry=entry,
                     scores=scores[list(SCORE_COLUMNS)])


def load_run_model(run: LatestRun, tracking_uri: str | None) -> Any:
    """The registered model the latest run scored with (from MLflow)."""
    from falls_risk import tracking
    from falls_risk.modelling.registered import load_registered

    tracking.configure(tracking_uri, existing=True)
    return load_registered(run.model_uri)


def explain_missing(run: LatestRun, people: pd.Series, registered: Any, top_n: int = 3) -> dict[str, str]:
    """Reasons for notified people the monthly run scored but did not explain (it explains the
    flagged tier only): SHAP on the features that run scored (``run_features``), with the model
    it scored them with, so the reasons match the risk shown."""
    if registered is None or not RUN_FEATURES.exists(run.folder) or people.empty:
        return {}
    from falls_risk.explain import explain

    model = registered.model
    wanted = list(dict.fromkeys(people))
    features = RUN_FEATURES.load(run.folder, filters=[("person_key", "in", wanted)])
    if features.empty:
        return {}
    frame = features.drop_duplicates("person_key").set_index("person_key")
    reasons = explain(model, frame.loc[:, list(model.feature_names_)], top_n=top_n).reasons_text(top_n)
    return {k: v for k, v in reasons.items() if v}


def linkage_model_into(ws: Workspace, run: LatestRun, given: Path | None, registered: Any) -> Path:
    """The Splink model to link the delivery with: the one given, else the one recorded with the
    training of the model the latest run used (``registered``, from MLflow). Never trained here."""
    if given is not None:
        if not Path(given).exists():
            raise NotifyError(f"--linkage-model {given} does not exist. Check the path.")
        return Path(given)
    training = registered.training
    if training is None or training.data.linkage_model is None:
        raise NotifyError(
            f"{run.model_uri} (used by the run of {run.month}) records no linkage model, and notify never trains "
            "one. Pass --linkage-model with the Splink model JSON the monthly run linked with."
        )
    LINKAGE_MODEL.save(ws, training.data.linkage_model)
    return LINKAGE_MODEL.path(ws)
