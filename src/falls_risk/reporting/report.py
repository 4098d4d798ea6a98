"""``falls-risk report``: the commissioners' static HTML report for a registered model.

Reads the model and its training run from MLflow, the feature table from the workspace, splits
it as training did (out-of-time test period), collects the summary dict and renders it into one
self-contained HTML file (figures inline, CSS inline, nothing fetched at view time). The summary
without its figures is written beside it as JSON, for audit and for tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.errors import ModelError
from falls_risk.progress import console
from falls_risk.reporting.render import render_report
from falls_risk.reporting.summary import ReportSplit, RunRecord, collect_summary
from falls_risk.workspace import Workspace, write_json, write_text

REPORT_FILE = "model_report.html"
SUMMARY_FILE = "model_report_summary.json"


def _split_settings(model: Any, params: dict[str, str]) -> dict[str, Any]:
    """test_months / calibration_fraction / gap_days / seed as training used them."""
    info = dict(getattr(model, "training_info_", {}) or {})
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    split = {**(config.get("split") or {}), **(info.get("split_config") or {})}
    out: dict[str, Any] = {}
    for key, cast in (("test_months", int), ("calibration_fraction", float), ("gap_days", int)):
        value = params.get(f"split.{key}", split.get(key))
        if value is not None:
            out[key] = cast(value)
    seed = params.get("seed", config.get("seed"))
    if seed is not None:
        out["seed"] = int(seed)
    return out


def _index_dates(model: Any) -> list[date] | None:
    """The index dates the model was trained and tested on (training_info_)."""
    info = dict(getattr(model, "training_info_", {}) or {})
    dates = list(info.get("train_index_dates") or []) + list(info.get("test_index_dates") or [])
    return sorted({date.fromisoformat(str(d)[:10]) for d in dates}) or None


def split_like_training(workspace: Path, model: Any, params: dict[str, str]) -> ReportSplit:
    """The workspace's feature table, split into train / calibration / test as training did."""
    from falls_risk.modelling.data import KEY_COLUMNS, feature_table_hash, load_features, temporal_split
    from falls_risk.modelling.roles import default_specs

    wanted = _index_dates(model)
    frame = load_features(workspace)
    if wanted:
        frame = frame[frame["index_date"].isin(set(wanted))]
        if frame.empty:
            raise ModelError(
                f"The feature table in {workspace} has none of the {len(wanted)} index dates the model was "
                f"trained and tested on ({wanted[0]} to {wanted[-1]}). Build them with `falls-risk features "
                f"--workspace {workspace}` or pass the workspace the model was trained from."
            )
    split = temporal_split(frame, **_split_settings(model, params))
    info = dict(split.info)
    # Hashed as training hashes it (keys, every registry feature, label), to detect a changed table.
    columns = [*KEY_COLUMNS, *(s.name for s in default_specs() if s.name in frame.columns), "label"]
    info["feature_table_hash"] = feature_table_hash(frame[columns])
    return ReportSplit(train=split.train, calibration=split.calibration, test=split.test, info=info)


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

    tracking.configure(tracking_uri)
    loaded = tracking.load_model(model_uri)
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
    """Write ``OUT/model_report.html`` (and its summary JSON); returns the HTML path."""
    ws = Workspace(workspace)
    ws.require(ws.features, "features")
    out = Path(out)
    with console.status("Loading the model and its training run"):
        record = load_run_record(model_uri, tracking_uri)
    with console.status("Splitting the feature table as training did"):
        split = split_like_training(ws.root, record.model, record.params)
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
    target = write_text(html, out / REPORT_FILE)
    plain = {k: v for k, v in summary.items() if k not in ("figures", "dependence")}
    write_json(json.loads(json.dumps(plain, default=str)), out / SUMMARY_FILE)
    console.print(f"Report written to {target}")
    return target
