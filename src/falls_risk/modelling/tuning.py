"""LightGBM tuned with Optuna: TPE sampling, pruning from LightGBM's own validation curve, a
resumable SQLite study.

* Storage: an Optuna RDB study in a SQLite file (``tuning.storage``), named from the experiment,
  the model and the feature-table hash, so rerunning the same experiment on the same data
  continues the same study; a different table starts a new one.
* Resume: trials keep a heartbeat; a trial whose process died (RUNNING, heartbeat stale) is failed
  and re-queued with the same parameters (``RetryHeartbeatStaleTrialCallback``). A trial that
  raised is re-queued too (up to ``tuning.max_retries`` times), so a failure is retried, not
  lost. The budget counts finished trials (complete or pruned): a resumed study runs only what is
  left. TPE is reseeded with the number of trials already stored, so a resumed run does not
  replay the first run's random start-up points.
* Each trial trains on person-grouped folds of the training set with early stopping; the
  ``LightGBMPruningCallback`` reports the validation log loss each round, and the median pruner
  stops trials that fall behind.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from optuna_integration import LightGBMPruningCallback

from falls_risk.config import TuningConfig
from falls_risk.errors import ModelError
from falls_risk.modelling.data import person_folds
from falls_risk.modelling.estimators import LIGHTGBM_FIXED
from falls_risk.progress import progress_bar

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


# Settings that change what a trial measures: a study resumes only when none of them changed.
# (The budget, timeout, storage, retries and heartbeat do not: raising n_trials continues a study.)
RUN_ONLY_SETTINGS = frozenset({"n_trials", "timeout_minutes", "storage", "max_retries", "heartbeat_seconds"})


def study_name(experiment: str, model: str, data_hash: str, settings: Mapping[str, Any] | None = None) -> str:
    """``<experiment>.<model>.<feature-table hash>[.<settings hash>]``: rerunning the same experiment
    on the same table continues its study; new data or new tuning settings start a new one."""
    name = f"{experiment}.{model}.{data_hash}"
    if settings:
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
        name += f".{digest}"
    return name


def study_settings(config: TuningConfig, **context: Any) -> dict[str, Any]:
    """What a study's trials depend on besides the data: the tuning settings and ``context``
    (seed, split, features)."""
    return {"tuning": config.model_dump(mode="json", exclude=set(RUN_ONLY_SETTINGS)), **context}


def search_space(trial: optuna.Trial, learning_rate: float | None = None) -> dict[str, Any]:
    """The trial's LightGBM parameters; ``learning_rate`` fixes the rate instead of searching it."""
    return {
        "learning_rate": learning_rate or trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 2000, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": 1,
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-3, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        "min_sum_hessian_in_leaf": trial.suggest_float("min_sum_hessian_in_leaf", 1e-3, 10.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 50.0, log=True),
        # Shrinks a leaf towards its parent: small leaves of a rare outcome stop chasing noise.
        "path_smooth": trial.suggest_float("path_smooth", 0.0, 100.0),
    }


# A new study tries these first, then TPE explores: heavily regularised shapes (large leaves of
# data, feature subsampling, L2 or path smoothing) suit a rare outcome with many weak predictors,
# and random start-up points rarely land there (bench/world_variants.py).
STARTING_POINTS: tuple[dict[str, Any], ...] = (
    {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 1000, "feature_fraction": 0.5,
     "bagging_fraction": 1.0, "lambda_l1": 1e-3, "lambda_l2": 10.0, "min_sum_hessian_in_leaf": 5.0,
     "cat_smooth": 10.0, "path_smooth": 0.0},
    {"learning_rate": 0.03, "num_leaves": 7, "min_data_in_leaf": 300, "feature_fraction": 0.5,
     "bagging_fraction": 1.0, "lambda_l1": 1e-3, "lambda_l2": 10.0, "min_sum_hessian_in_leaf": 1e-3,
     "cat_smooth": 10.0, "path_smooth": 50.0},
)


def starting_points(learning_rate: float | None = None) -> list[dict[str, Any]]:
    """``STARTING_POINTS`` as trials of ``search_space(trial, learning_rate)``: without the rate when it is fixed."""
    return [{k: v for k, v in point.items() if not (learning_rate and k == "learning_rate")} for point in STARTING_POINTS]


def open_storage(path: str | Path, config: TuningConfig) -> RDBStorage:
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return RDBStorage(
            url=f"sqlite:///{path}",
            engine_kwargs={"connect_args": {"timeout": 60}},
            heartbeat_interval=config.heartbeat_seconds,
            grace_period=2 * config.heartbeat_seconds,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=config.max_retries),
        )


def requeue_failures(study: optuna.Study, max_retries: int) -> int:
    """Re-queue (as WAITING, same parameters) every failed trial that has no retry yet."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history")}
    retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)
    queued = 0
    for trial in trials:
        if trial.state == TrialState.FAIL and trial.number not in retried and trial.params:
            before = len(study.get_trials(deepcopy=False))
            retry(study, trial)
            queued += len(study.get_trials(deepcopy=False)) - before
    return queued


def count_finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


@dataclass
class TuningResult:
    study_name: str
    storage: str
    best_params: dict[str, Any]
    best_value: float
    best_iteration: int
    num_boost_round: int
    trials: dict[str, int] = field(default_factory=dict)
    retried: list[int] = field(default_factory=list)
    seconds: float = 0.0
    # When tuning began (epoch seconds), so the run that records it spans the tuning too.
    started_at: float | None = None
    # Every trial of the study (resumed ones included): number, state, value (CV log loss),
    # params, start and end (epoch seconds), for MLflow's child runs.
    history: list[dict[str, Any]] = field(default_factory=list)


class _Objective:
    def __init__(self, train: pd.DataFrame, features: Sequence[str], categorical: Sequence[str],
                 config: TuningConfig, folds: list[tuple[np.ndarray, np.ndarray]], seed: int) -> None:
        self.config = config
        self.seed = seed
        full = lgb.Dataset(
            train[list(features)].astype("float64"), label=train["label"].to_numpy(dtype=float),
            categorical_feature=list(categorical) or "auto",
            params={"feature_pre_filter": False, "verbosity": -1, "max_bin": 255}, free_raw_data=False,
        ).construct()
        self.folds = [(full.subset(sorted(tr)), full.subset(sorted(va))) for tr, va in folds]

    def __call__(self, trial: optuna.Trial) -> float:
        params = {**search_space(trial, self.config.learning_rate), **LIGHTGBM_FIXED, "seed": self.seed,
                  "metric": "binary_logloss"}
        losses, iterations = [], []
        for k, (dtrain, dvalid) in enumerate(self.folds):
            callbacks = [lgb.early_stopping(self.config.early_stopping_rounds, verbose=False)]
            if k == 0:
                # Every 10th round: each report is a write to the SQLite study.
                callbacks.append(LightGBMPruningCallback(trial, "binary_logloss", valid_name="valid",
                                                         report_interval=10))
            booster = lgb.train(
                params, dtrain, num_boost_round=self.config.max_boost_rounds, valid_sets=[dvalid],
                valid_names=["valid"], callbacks=callbacks,
            )
            losses.append(float(booster.best_score["valid"]["binary_logloss"]))
            iterations.append(int(booster.best_iteration or booster.current_iteration()))
        trial.set_user_attr("best_iteration", int(np.mean(iterations)))
        trial.set_user_attr("fold_logloss", losses)
        return float(np.mean(losses))


def tune_lightgbm(
    train: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    config: TuningConfig,
    cv_folds: int,
    name: str,
    storage_path: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> TuningResult:
    """Run (or continue) the study ``name`` until ``config.n_trials`` trials have finished."""
    started = time.monotonic()
    started_wall = time.time()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_path = Path(storage_path or config.storage)
    storage = open_storage(storage_path, config)
    folds = person_folds(train, cv_folds, seed)[: min(config.folds_per_trial, cv_folds)]
    objective = _Objective(train, features, categorical, config, folds, seed)
    existing = 0
    try:
        existing = len(optuna.load_study(study_name=name, storage=storage).trials)
    except KeyError:
        pass
    study = optuna.create_study(
        study_name=name, storage=storage, direction="minimize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed + existing, n_startup_trials=min(10, config.n_trials)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
    )
    if existing == 0:
        for point in starting_points(config.learning_rate)[: config.n_trials]:
            study.enqueue_trial(point)
    deadline = None if config.timeout_minutes is None else started + 60 * config.timeout_minutes
    attempt_cap = config.n_trials * (config.max_retries + 1) + 5
    with warnings.catch_warnings(), progress_bar(disable=not progress) as bar:
        warnings.simplefilter("ignore", ExperimentalWarning)
        task = bar.add_task(f"Tuning LightGBM ({name})", total=config.n_trials, completed=count_finished(study))
        while True:
            optuna.storages.fail_stale_trials(study)
            requeue_failures(study, config.max_retries)
            done = count_finished(study)
            bar.update(task, completed=done)
            if done >= config.n_trials or (deadline is not None and time.monotonic() > deadline):
                break
            failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if len(study.trials) >= attempt_cap + existing or (
                failed and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
                and len(failed) > config.n_trials * config.max_retries
            ):
                reason = failed[-1].system_attrs.get("fail_reason", "see the log") if failed else "unknown"
                raise ModelError(
                    f"Tuning study {name!r} keeps failing ({len(failed)} failed trials; last: {reason}). "
                    f"Fix the cause, then rerun: the study in {storage_path} resumes where it stopped."
                )
            study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise ModelError(f"Tuning study {name!r} has no completed trial; raise tuning.n_trials or timeout_minutes.")
    best = study.best_trial
    best_iteration = int(best.user_attrs.get("best_iteration", 100))
    train_share = 1.0 - 1.0 / cv_folds
    params = {k: v for k, v in best.params.items()}
    if config.learning_rate:
        params["learning_rate"] = config.learning_rate
    params["bagging_freq"] = 1
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return TuningResult(
        study_name=name,
        storage=str(storage_path.resolve()),
        best_params=params,
        best_value=float(best.value),
        best_iteration=best_iteration,
        # The final model trains on all of the training set: scale rounds up by the data ratio.
        num_boost_round=max(10, round(best_iteration / train_share)),
        trials={s.name.lower(): states.count(s) for s in TrialState},
        retried=sorted({int(t.system_attrs["failed_trial"]) for t in study.get_trials(deepcopy=False)
                        if "failed_trial" in t.system_attrs and t.state in FINISHED}),
        seconds=time.monotonic() - started,
        started_at=started_wall,
        history=trial_history(study),
    )


def trial_history(study: optuna.Study) -> list[dict[str, Any]]:
    """The study's trials as plain data (what MLflow's child runs record)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append({
            "number": t.number,
            "state": t.state.name.lower(),
            "value": None if t.value is None else float(t.value),
            "params": dict(t.params),
            "best_iteration": t.user_attrs.get("best_iteration"),
            "start": t.datetime_start.timestamp() if t.datetime_start else None,
            "end": t.datetime_complete.timestamp() if t.datetime_complete else None,
        })
    return rows
