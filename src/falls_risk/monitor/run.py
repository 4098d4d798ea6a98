"""``falls-risk monitor``: every past monthly run against the outcomes of the latest extract.

Stage calls: read the run ledger (current run of each month) and the actions ledger; read each
scored model's training record and validated metrics from MLflow; ingest, link and build events
for the latest extract in a working folder (removed afterwards: it holds identifiers); for each
run, take the labels ``features`` gives at its as-of date (over the elapsed window if still open)
and assess the run's scores against them; log realised metrics of complete months to the model
version; write ``monitor.json`` and ``monitor.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from falls_risk import tracking
from falls_risk.actions.ledger import read_actions
from falls_risk.actions.summary import attribute_actions, current_runs, listed_people
from falls_risk.config import FeatureConfig, PipelineConfig
from falls_risk.errors import ScoringError
from falls_risk.linkage.secret import load_secret
from falls_risk.modelling.record import ARTIFACT_PATH, TrainingRecord
from falls_risk.monitor.assess import assess_month
from falls_risk.monitor.outcomes import outcome_window, prepare_latest_extract
from falls_risk.monitor.page import write_monitor
from falls_risk.scoring.ledger import verify_ledger
from falls_risk.scoring.work import working_folder

WORK_NAME = "monitor"
# Realised metrics logged to the model version, and the validated metric each is checked against.
LOGGED = ("auroc", "auroc_ci_low", "auroc_ci_high", "auprc", "observed_expected", "calibration_slope",
          "calibration_intercept")
CHECKED = {"auroc": "test_auroc", "observed_expected": "test_observed_expected"}


@dataclass(frozen=True)
class MonitorRequest:
    extract_dir: Path
    runs_dir: Path
    out: Path
    tracking_uri: str | None = None
    mapping: Path | None = None
    extract_date: date | None = None
    key_file: Path | None = None
    linkage_model: Path | None = None
    config: PipelineConfig = field(default_factory=PipelineConfig)
    n_bootstrap: int = 200
    seed: int = 0
    log_to_mlflow: bool = True


@dataclass
class ScoredModel:
    """What monitoring needs of the model a run used: its training record and validated metrics."""

    record: TrainingRecord | None
    validated: dict[str, float]

    @property
    def feature_config(self) -> FeatureConfig:
        if self.record is None or self.record.data.feature_config is None:
            return FeatureConfig()
        return self.record.data.feature_config


@dataclass
class MonitorResult:
    data: dict[str, Any]
    json_path: Path
    html_path: Path
    warnings: list[str]

    def lines(self) -> list[str]:
        months = self.data["months"]
        complete = [m for m in months if m["window_complete"]]
        return [(f"Monitored {len(months)} scored month(s) against the extract dated {self.data['extract_date']}: "
                f"{len(complete)} with a complete outcome window, {len(months) - len(complete)} partial."),
                f"Wrote {self.html_path} and {self.json_path}."]


def _scored_model(run_id: str | None) -> ScoredModel:
    if not run_id:
        return ScoredModel(None, {})
    record = TrainingRecord.from_dict(tracking.load_run_json(run_id, ARTIFACT_PATH))
    return ScoredModel(record, dict(tracking.run_data(run_id)["metrics"]))


def validation_warnings(month: dict[str, Any], validated: dict[str, float]) -> list[str]:
    """A warning for each realised metric of a complete month outside the model's validation interval."""
    if not month["window_complete"]:
        return []
    out = []
    for name, metric in CHECKED.items():
        value, low, high = month.get(name), validated.get(f"{metric}_ci_low"), validated.get(f"{metric}_ci_high")
        if value is None or low is None or high is None:
            continue
        if not low <= value <= high:
            out.append(f"{month['month']}: realised {name.replace('_', '/')} {value:.3f} is outside the validation "
                       f"interval {low:.3f}-{high:.3f} of model v{month['model']['version']}.")
    return out


def run_monitor(request: MonitorRequest) -> MonitorResult:
    root = Path(request.runs_dir)
    secret = load_secret(request.key_file)
    runs = current_runs(root)
    if not runs:
        raise ScoringError(f"{root}: no scoring run is recorded in the ledger; run `falls-risk score` first.")
    verify_ledger(root, secret)
    tracking.configure(request.tracking_uri, existing=True)
    models = {run_id: _scored_model(run_id) for run_id in {e.get("model", {}).get("run_id") for e in runs}}
    latest_model = models[runs[-1].get("model", {}).get("run_id")]
    actions = attribute_actions(read_actions(root), runs)
    months, warnings = [], []
    with working_folder(root, WORK_NAME) as ws:
        linkage_model = request.linkage_model or (latest_model.record.data.linkage_model
                                                  if latest_model.record is not None else None)
        latest = prepare_latest_extract(
            request.extract_dir, ws, secret=secret, feature_config=latest_model.feature_config,
            linkage_config=request.config.linkage, linkage_model=linkage_model, mapping=request.mapping,
            extract_date=request.extract_date)
        for entry in runs:
            model = models[entry.get("model", {}).get("run_id")]
            config = model.feature_config
            window = outcome_window(date.fromisoformat(entry["as_of"]), config.label_horizon_days,
                                    latest.known_until(config))
            outcomes = latest.outcomes(window, config) if window.started else None
            month = assess_month(entry, listed_people(root, entry), outcomes, window, actions,
                                 n_bootstrap=request.n_bootstrap, seed=request.seed)
            month["warnings"] = validation_warnings(month, model.validated)
            month["validated"] = {f"{name}{part}": model.validated.get(f"{metric}{part}")
                                  for name, metric in CHECKED.items() for part in ("", "_ci_low", "_ci_high")}
            warnings += month["warnings"]
            months.append(month)
    if request.log_to_mlflow:
        for month in months:
            run_id = month["model"]["run_id"]
            if month["window_complete"] and run_id and month.get("auroc") is not None:
                tracking.log_realised(run_id, month["model"]["version"], month["month"],
                                      {k: month.get(k) for k in LOGGED})
    data = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "extract_dir": str(Path(request.extract_dir).absolute()),
        "extract_date": latest.extract.extract_date.isoformat(),
        "label_known_until": latest.known_until(latest_model.feature_config).isoformat(),
        "n_bootstrap": request.n_bootstrap, "seed": request.seed,
        "months": months, "warnings": warnings,
    }
    json_path, html_path = write_monitor(request.out, data)
    return MonitorResult(data, json_path, html_path, warnings)
