"""Run an experiment: split, (tune,) fit, calibrate, evaluate, check subgroups, track in MLflow.

``run_experiment(config)`` is what ``falls-risk train experiments/X.yaml`` calls. The reusable
pieces are public: ``train_model`` fits one model kind on any feature subset (used by the
explanation engineer's per-agency ablation) and ``evaluate_model`` scores it on a test frame.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from lightgbm.basic import LightGBMError

from falls_risk import figures, tracking
from falls_risk.catalog import FEATURE_TABLE, FEATURES_MANIFEST
from falls_risk.config import EvaluationConfig, ExperimentConfig, FeatureConfig, ModelConfig
from falls_risk.errors import ConfigError
from falls_risk.features.spec import FeatureSpec
from falls_risk.modelling.calibration import CALIBRATION_METHODS
from falls_risk.modelling.data import (
    KEY_COLUMNS,
    Split,
    apply_treatment_policy,
    check_feature_frame,
    feature_table_hash,
    load_features,
    temporal_split,
)
from falls_risk.modelling.evaluation import capacity_flags, evaluate_predictions, lowest_flagged
from falls_risk.modelling.fairness import subgroup_columns, subgroup_metrics
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.modelling.record import (
    ARTIFACT_PATH,
    LINKAGE_MODEL_ARTIFACT,
    DataRecord,
    SplitRecord,
    TrainingRecord,
    TuningRecord,
)
from falls_risk.modelling.roles import default_registry_version, default_specs
from falls_risk.modelling.tuning import TuningResult, study_name, study_settings, tune_lightgbm
from falls_risk.progress import console
from falls_risk.workspace import Workspace

HEADLINE = ("test_auroc", "test_auprc", "test_brier", "test_calibration_slope", "test_ece")


def train_model(
    train: pd.DataFrame,
    calibration: pd.DataFrame | None = None,
    *,
    kind: str = "lightgbm",
    params: dict[str, Any] | None = None,
    specs: Sequence[FeatureSpec] | None = None,
    features: Sequence[str] | None = None,
    roles: dict[str, Any] | None = None,
    calibration_methods: Sequence[str] = CALIBRATION_METHODS,
    registry_version: str | None = None,
    seed: int = 0,
) -> FallsRiskModel:
    """Fit one model of ``kind`` on ``train`` (feature subset ``features``), calibrated on ``calibration``.

    ``train`` / ``calibration`` are labelled rows of the feature table (``label`` 0/1,
    ``person_key``). Calibration folds are grouped by person.
    """
    model = FallsRiskModel(
        kind=kind, params=params, specs=specs, features=features, roles=roles,
        calibration_methods=tuple(calibration_methods), registry_version=registry_version, random_state=seed,
    )
    if calibration is None:
        return model.fit(train, train["label"])
    return model.fit(
        train, train["label"], X_calibration=calibration, y_calibration=calibration["label"],
        groups_calibration=calibration["person_key"],
    )


@dataclass
class ModelEvaluation:
    metrics: dict[str, float]
    decision_curve: pd.DataFrame
    subgroups: pd.DataFrame
    predictions: pd.DataFrame
    thresholds: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)


def evaluate_model(
    model: FallsRiskModel,
    test: pd.DataFrame,
    *,
    evaluation: EvaluationConfig | None = None,
    specs: Sequence[FeatureSpec] | None = None,
    seed: int = 0,
) -> ModelEvaluation:
    """Out-of-time metrics with bootstrap intervals, decision curve and subgroup table."""
    evaluation = evaluation or EvaluationConfig()
    specs = tuple(specs) if specs is not None else default_specs()
    p = model.predict_proba(test)
    y = test["label"].to_numpy(dtype=int)
    ev = evaluate_predictions(
        y, p, test["index_date"].to_numpy(), test["person_key"].to_numpy(),
        capacities=evaluation.capacities, thresholds=evaluation.decision_thresholds,
        n_bootstrap=evaluation.bootstrap, seed=seed,
    )
    groups = subgroup_columns(test, specs, model.roles_)
    flagged = capacity_flags(p, test["index_date"].to_numpy(), evaluation.fairness_capacity)
    threshold = lowest_flagged(p, flagged)
    table, summary = subgroup_metrics(y, p, groups, flagged)
    predictions = pd.DataFrame({
        "person_key": test["person_key"].to_numpy(),
        "index_date": test["index_date"].to_numpy(),
        "label": y,
        "prob": p,
    })
    if "died_in_window" in test:
        predictions["died_in_window"] = test["died_in_window"].to_numpy()
    return ModelEvaluation(
        metrics={**ev.metrics, **summary}, decision_curve=ev.decision_curve, subgroups=table,
        predictions=predictions, thresholds={**ev.thresholds, "fairness": threshold}, info=ev.info,
    )


@dataclass
class RunResult:
    name: str
    kind: str
    run_id: str
    version: str | None
    model_uri: str
    metrics: dict[str, float]
    model: FallsRiskModel
    tuning: TuningResult | None = None
    seconds: float = 0.0


NET_BENEFIT_METRIC = "test_net_benefit_"


def _log_run(
    config: ExperimentConfig, model_cfg: ModelConfig, model: FallsRiskModel, result: ModelEvaluation,
    split: Split, tuning_result: TuningResult | None, record: TrainingRecord,
) -> tuple[str, str | None, str]:
    name = model_cfg.name or model_cfg.kind
    tags = {
        "experiment_config": config.name,
        "model_kind": model_cfg.kind,
        "feature_table_hash": record.data.feature_table_hash,
        "registry_version": model.registry_version_,
        "calibration_method": model.calibrator_.method if model.calibrator_ else "none",
    }
    description = (
        f"{model_cfg.kind} of experiment {config.name!r}, trained on {split.info['rows']['train']:,} person-months "
        f"(feature table {record.data.feature_table_hash}), tested out of time on "
        f"{split.info['test_index_dates'][0]} to {split.info['test_index_dates'][-1]}."
        + (f" Tuned first by Optuna study {tuning_result.study_name!r}: each trial is a child run."
           if tuning_result is not None else "")
    )
    started_at = tuning_result.started_at if tuning_result is not None else None
    with tracking.start_run(config.tracking.experiment, run_name=name, tags=tags, started_at=started_at,
                            description=description) as run_id:
        train_data = tracking.dataset_from_frame(
            split.train[[*model.feature_names_, "label"]], name=f"feature_table_{record.data.feature_table_hash}",
            source=str(FEATURE_TABLE.path(record.data.workspace)), targets="label")
        tracking.log_input(train_data, context="training")
        params = {
            "experiment": config.name,
            "seed": config.seed,
            "model": {"kind": model_cfg.kind, "features": len(model.feature_names_),
                      "params": model.params or {}},
            "split": config.split.model_dump(mode="json"),
            "data": {"workspace": str(config.data.workspace),
                     "train_index_dates": split.info["train_index_dates"],
                     "test_index_dates": split.info["test_index_dates"]},
            "calibration": {"methods": config.calibration.methods,
                            "chosen": model.calibrator_.method if model.calibrator_ else "none"},
            "evaluation": {"bootstrap": config.evaluation.bootstrap, "bootstrap_unit": "person"},
            "feature_table_hash": record.data.feature_table_hash,
            "registry_version": model.registry_version_,
        }
        if tuning_result is not None:
            params["tuning"] = {"n_trials": config.tuning.n_trials, "study": tuning_result.study_name,
                                "best_value": tuning_result.best_value}
        tracking.log_params(params)
        metrics = dict(result.metrics)
        metrics.update({f"calibration_brier_{k}": v for k, v in model.calibration_scores_.items()})
        for part in ("train", "calibration", "test"):
            metrics[f"{part}_rows"] = split.info["rows"][part]
            metrics[f"{part}_events"] = split.info["events"][part]
        if tuning_result is not None:
            metrics["tuning_seconds"] = tuning_result.seconds
            metrics["tuning_trials_complete"] = tuning_result.trials.get("complete", 0)
            metrics["tuning_trials_pruned"] = tuning_result.trials.get("pruned", 0)
        # The net-benefit grid (30 thresholds, with intervals) is a table, not 90 metrics that swamp
        # MLflow's metrics panel: it is logged as evaluation/net_benefit.json below.
        tracking.log_metrics({k: v for k, v in metrics.items() if not k.startswith(NET_BENEFIT_METRIC)})
        tracking.log_table(result.decision_curve, "evaluation/net_benefit.json")
        tracking.log_dict(config.model_dump(mode="json"), "config/experiment.json")
        tracking.log_dict(split.info, "config/split.json")
        tracking.log_dict(model.reference_, "drift/reference.json")
        tracking.log_dict(record.to_dict(), ARTIFACT_PATH)
        tracking.log_text(result.subgroups.to_csv(index=False), "evaluation/subgroups.csv")
        tracking.log_text(result.decision_curve.to_csv(index=False), "evaluation/decision_curve.csv")
        tracking.log_dict({"metrics": result.metrics, "thresholds": result.thresholds, **result.info},
                          "evaluation/metrics.json")
        tracking.log_parquet(result.predictions, "evaluation/test_predictions.parquet")
        if tuning_result is not None:
            tracking.log_dict({k: v for k, v in tuning_result.__dict__.items() if k != "history"}, "tuning/result.json")
            tracking.log_trials(tuning_result.history, dataset=train_data, study=tuning_result.study_name,
                                storage=tuning_result.storage,
                                objective="mean log loss over the cross-validation folds of the training split")
        # For people and other tools (the training record carries all of it for scoring).
        if record.data.feature_config is not None:
            tracking.log_dict(record.data.feature_config.model_dump(mode="json"), "scoring/feature_config.json")
        if FEATURES_MANIFEST.exists(record.data.workspace):
            tracking.log_artifact(FEATURES_MANIFEST.path(record.data.workspace), "scoring")
        if record.data.linkage_model is not None:
            tracking.log_dict(record.data.linkage_model, LINKAGE_MODEL_ARTIFACT)
        y = result.predictions["label"].to_numpy()
        p = result.predictions["prob"].to_numpy()
        horizon = record.horizon_days
        for fig_name, fig in (
            ("roc.png", figures.roc_figure(y, p, name)),
            ("precision_recall.png", figures.precision_recall_figure(y, p, name)),
            ("calibration.png", figures.calibration_figure(y, p, horizon_days=horizon)),
            ("decision_curve.png", figures.decision_curve_figure(result.decision_curve)),
        ):
            tracking.log_figure(fig, f"plots/{fig_name}")
            figures.close(fig)
        logged = tracking.log_model(model, split.test, register=config.tracking.register_model)
        if logged["version"] is not None:
            tracking.set_tags({"registered_version": logged["version"]})
    return run_id, (None if logged["version"] is None else str(logged["version"])), logged["model_uri"]


def _treatment_policy(frame: pd.DataFrame, config: ExperimentConfig, data: DataRecord
                      ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The feature table under ``data.treated_person_months``, given the actions ledger of ``data.actions_runs``."""
    from falls_risk.actions import read_actions

    runs = config.data.actions_runs
    actions = None if runs is None else read_actions(runs)
    horizon = (data.feature_config or FeatureConfig()).label_horizon_days
    return apply_treatment_policy(frame, actions, horizon, config.data.treated_person_months)


def run_experiment(
    config: ExperimentConfig,
    *,
    workspace: str | Path | None = None,
    tracking_uri: str | None = None,
    specs: Sequence[FeatureSpec] | None = None,
    registry_version: str | None = None,
    frame: pd.DataFrame | None = None,
    progress: bool = True,
) -> list[RunResult]:
    """Run every model of the experiment; one MLflow run (and registered version) per model.

    ``frame`` (a feature table already in memory) replaces reading the workspace, for tests.
    """
    specs = tuple(specs) if specs is not None else default_specs()
    registry_version = registry_version or default_registry_version()
    ws = Workspace(workspace if workspace is not None else config.data.workspace)
    # The run records the workspace it read (``--workspace`` overrides the YAML's).
    config = config.model_copy(update={"data": config.data.model_copy(update={"workspace": ws.root.resolve()})})
    if frame is None:
        frame = load_features(ws, config.data.index_dates)
    elif config.data.index_dates:
        frame = frame[frame["index_date"].isin(config.data.index_dates)]
    check_feature_frame(frame, specs, source=f"feature table in {FEATURE_TABLE.path(ws)}")
    feature_cols = [s.name for s in specs]
    data_hash = feature_table_hash(frame[[*KEY_COLUMNS, *feature_cols, "label"]])
    data_record = DataRecord.from_workspace(ws, feature_table_hash=data_hash, registry_version=registry_version)
    frame, treatment = _treatment_policy(frame, config, data_record)
    split = temporal_split(frame, config.split.test_months, config.split.calibration_fraction,
                           config.split.gap_days, seed=config.seed)
    tracking.configure(tracking_uri or config.tracking.tracking_uri)
    roles = config.features.model_dump(exclude_none=True)
    if progress:
        info = split.info
        console.print(
            f"Split: train {info['rows']['train']:,} rows ({info['events']['train']:,} falls), calibration "
            f"{info['rows']['calibration']:,}, out-of-time test {info['rows']['test']:,} "
            f"({info['test_index_dates'][0]} to {info['test_index_dates'][-1]}); table hash {data_hash}."
        )
    results = []
    for model_cfg in config.models:
        started = time.monotonic()
        name = model_cfg.name or model_cfg.kind
        params = dict(model_cfg.params)
        tuning_result = None
        if model_cfg.kind == "lightgbm_tuned":
            features = model_cfg.features or feature_cols
            tuning_result = tune_lightgbm(
                split.train, features=features,
                categorical=[s.name for s in specs if s.is_categorical and s.name in features],
                config=config.tuning, cv_folds=config.split.cv_folds,
                name=study_name(config.name, name, data_hash, study_settings(
                    config.tuning, seed=config.seed, split=config.split.model_dump(mode="json"), features=features)),
                seed=config.seed, progress=progress,
            )
            params = {**tuning_result.best_params, "num_boost_round": tuning_result.num_boost_round, **params}
        try:
            model = train_model(
                split.train, split.calibration, kind=model_cfg.kind, params=params, specs=specs,
                features=model_cfg.features, roles=roles, calibration_methods=config.calibration.methods,
                registry_version=registry_version, seed=config.seed,
            )
        except (ValueError, LightGBMError) as exc:
            # scikit-learn and LightGBM check parameter values only when fitting.
            raise ConfigError(
                f"Experiment {config.name!r}, model {name!r} ({model_cfg.kind}) cannot be fitted with params "
                f"{dict(model_cfg.params)}: {str(exc).splitlines()[0]} Fix that model's params in the experiment file."
            ) from exc
        result = evaluate_model(model, split.test, evaluation=config.evaluation, specs=specs, seed=config.seed)
        model.set_reference(split.test)
        record = TrainingRecord(
            experiment=config.name,
            model_name=name,
            model_kind=model_cfg.kind,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            config=config,
            params=params,
            split=SplitRecord.from_split_info(split.info, test_months=config.split.test_months,
                                              calibration_fraction=config.split.calibration_fraction,
                                              seed=config.seed),
            data=data_record,
            thresholds=result.thresholds,
            tuning=None if tuning_result is None else TuningRecord(
                study=tuning_result.study_name, storage=tuning_result.storage, n_trials=config.tuning.n_trials,
                best_value=tuning_result.best_value, trials=dict(tuning_result.trials),
                seconds=tuning_result.seconds),
            treatment=treatment,
        )
        model.training_record_ = record
        run_id, version, model_uri = _log_run(config, model_cfg, model, result, split, tuning_result, record)
        seconds = time.monotonic() - started
        results.append(RunResult(name=name, kind=model_cfg.kind, run_id=run_id, version=version,
                                 model_uri=model_uri, metrics=result.metrics, model=model,
                                 tuning=tuning_result, seconds=seconds))
        if progress:
            m = result.metrics
            console.print(
                f"{name}: AUROC {m['test_auroc']:.3f} ({m['test_auroc_ci_low']:.3f}-{m['test_auroc_ci_high']:.3f}), "
                f"AUPRC {m['test_auprc']:.3f}, slope {m['test_calibration_slope']:.2f}, ECE {m['test_ece']:.4f}; "
                f"run {run_id}, version {version} ({seconds:.0f} s)"
                if "test_auroc_ci_low" in m else f"{name}: AUROC {m['test_auroc']:.3f}; run {run_id}"
            )
    return results


def leaderboard_frame(experiments: list[str] | None = None) -> pd.DataFrame:
    # Realised metrics: logged by `falls-risk monitor` for months whose outcome window is complete.
    return tracking.leaderboard(list(HEADLINE) + ["test_ppv_top2pct", "test_sensitivity_top2pct",
                                                  "realised_auroc", "realised_observed_expected"], experiments)


def promote(version: str, alias: str, reason: str, tracking_uri: str | None = None) -> dict[str, str]:
    tracking.configure(tracking_uri, existing=True)
    return tracking.set_alias(version, alias, reason)
