"""``falls-risk report``: the commissioners' static HTML report for a registered model.

Reads the model and its training run from MLflow, the feature table from the workspace, splits
it as training did (out-of-time test period), collects the summary dict and renders it into one
self-contained HTML file (figures inline, CSS inline, nothing fetched at view time). The summary
without its figures is written beside it as JSON, for audit and for tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from falls_risk.catalog import FEATURE_TABLE, MODEL_REPORT, MODEL_REPORT_SUMMARY
from falls_risk.config import SplitConfig
from falls_risk.errors import ModelError
from falls_risk.features.registry import feature_names
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.modelling.record import SplitRecord
from falls_risk.progress import console
from falls_risk.reporting.inputs import ReportSplit, RunRecord
from falls_risk.reporting.render import render_report
from falls_risk.reporting.summary import collect_summary
from falls_risk.workspace import Workspace


def split_like_training(workspace: Path, model: FallsRiskModel) -> ReportSplit:
    """The workspace's feature table, split into train / calibration / test as training did.

    The training record says how (index dates, test months, calibration share, gap, seed); a model
    fitted outside ``falls-risk train`` has none, and gets the default split of every index date.
    """
    from falls_risk.modelling.data import KEY_COLUMNS, feature_table_hash, load_features, temporal_split

    training = model.training_record_
    config = training.config.split if training else SplitConfig()
    seed = training.split.seed if training else 0
    frame = load_features(workspace)
    if training:
        wanted = training.split.index_dates
        frame = frame[frame["index_date"].isin(set(wanted))]
        if frame.empty:
            raise ModelError(
                f"The feature table in {workspace} has none of the {len(wanted)} index dates the model was "
                f"trained and tested on ({wanted[0]} to {wanted[-1]}). Build them with `falls-risk features "
                f"--workspace {workspace}` or pass the workspace the model was trained from."
            )
    split = temporal_split(frame, config.test_months, config.calibration_fraction, config.gap_days, seed=seed)
    # Hashed as training hashes it (keys, every registry feature, label), to detect a changed table.
    columns = [*KEY_COLUMNS, *(n for n in feature_names() if n in frame.columns), "label"]
    return ReportSplit(
        train=split.train, calibration=split.calibration, test=split.test,
        record=SplitRecord.from_split_info(split.info, test_months=config.test_months,
                                           calibration_fraction=config.calibration_fraction, seed=seed),
        feature_table_hash=feature_table_hash(frame[columns]),
    )


def logged_predictions_gap(record: RunRecord, split: ReportSplit) -> float | None:
    """Largest difference between the run's logged test predictions and the model's on this split.

    None when the run has no logged predictions. Person keys are used only to align the rows here.
    """
    import tempfile

    from falls_risk import tracking

    if not record.run_id:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = tracking.download_artifact(record.run_id, "evaluation/test_predictions.parquet", tmp)
            logged = pd.read_parquet(path, columns=["person_key", "index_date", "prob"])
    except Exception:  # noqa: BLE001 - an absent artifact only means nothing to cross-check
        return None
    test = split.test[["person_key", "index_date"]].copy()
    test["model_prob"] = record.model.predict_proba(split.test)
    logged["index_date"] = pd.to_datetime(logged["index_date"]).dt.date
    both = test.merge(logged, on=["person_key", "index_date"], how="inner")
    if len(both) < len(test):
        return float("inf")
    return float((both["model_prob"] - both["prob"]).abs().max()) if len(both) else 0.0


def load_run_record(model_uri: str, tracking_uri: str | None = None) -> RunRecord:
    """The model and its training run's metrics, params and tags, from MLflow."""
    from falls_risk import tracking
    from falls_risk.modelling.registered import load_registered

    tracking.configure(tracking_uri, existing=True)
    loaded = load_registered(model_uri)
    run = tracking.run_data(loaded.run_id) if loaded.run_id else {}
    return RunRecord(
        model=loaded.model,
        uri=loaded.uri,
        name=loaded.name,
        version=loaded.version,
        run_id=loaded.run_id,
        metrics=dict(run.get("metrics", {})),
        params=dict(run.get("params", {})),
        tags=dict(run.get("tags", {})),
        start_time=run.get("start_time"),
    )


def build_report(
    model_uri: str,
    workspace: str | Path,
    out: str | Path,
    *,
    tracking_uri: str | None = None,
    people_per_month: Sequence[int] | None = None,
    explain_rows: int = 3000,
    ablation: bool = True,
) -> Path:
    """Write the report (``catalog.MODEL_REPORT``) and its summary JSON into ``out``; returns the HTML path."""
    ws = Workspace(workspace)
    FEATURE_TABLE.require(ws)
    out = Path(out)
    with console.status("Loading the model and its training run"):
        record = load_run_record(model_uri, tracking_uri)
    with console.status("Splitting the feature table as training did"):
        split = split_like_training(ws.root, record.model)
        gap = logged_predictions_gap(record, split)
    with console.status(
        "Explaining, " + ("retraining without each agency, " if ablation else "") + "and drawing the figures"
    ):
        summary = collect_summary(
            record, split, people_per_month=people_per_month, explain_rows=explain_rows, ablation=ablation
        )
    if gap is not None and gap > 1e-6:
        summary["warnings"].append(
            "This workspace's test period does not reproduce the predictions logged with the training run "
            f"(largest difference {gap:.3g}): the performance shown is on this workspace's data."
        )
    html = render_report(summary)
    target = MODEL_REPORT.save(out, html)
    plain = {k: v for k, v in summary.items() if k not in ("figures", "dependence")}
    MODEL_REPORT_SUMMARY.save(out, json.loads(json.dumps(plain, default=str)))
    console.print(f"Report written to {target}")
    return target
