"""Experiment: does the tuning objective decide whether tuned LightGBM beats logistic regression?

On a world other than the training bench's (default seed 2, so the bench's test set plays no
part), runs the Optuna study of ``modelling.tuning`` (the same search space, starting points,
TPE sampler, median pruner and person-grouped folds) once per objective, refits the best trial
on the whole training part, and scores the out-of-time test beside the logistic regression.

    .venv/bin/python bench/tuning_objective.py --dir /tmp/dev2 [--seed 2] [--metrics binary_logloss,auc]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("FALLS_RISK_SECRET", "test-secret-not-for-real-use")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb
import numpy as np
import optuna
from optuna_integration import LightGBMPruningCallback
from sklearn.metrics import average_precision_score, roc_auc_score

from falls_risk.features.registry import FEATURES
from falls_risk.modelling.data import load_features, person_folds, temporal_split
from falls_risk.modelling.estimators import LIGHTGBM_FIXED, LogisticScorer
from falls_risk.modelling.tuning import search_space, starting_points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2, help="the world's seed (the training bench uses 1)")
    parser.add_argument("--people", type=int, default=70_000)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--metrics", default="binary_logloss,auc")
    args = parser.parse_args()

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from world_variants import build

    from falls_risk.config import load_experiment_config

    # The shipped experiment's fixed learning rate (or none), as `falls-risk train` tunes.
    learning_rate = load_experiment_config(
        Path(__file__).resolve().parents[1] / "experiments" / "lightgbm_optuna.yaml").tuning.learning_rate
    ws = build(args.dir, args.people, seed=args.seed)
    split = temporal_split(load_features(ws), seed=42)
    names = [s.name for s in FEATURES]
    categorical = [s.name for s in FEATURES if s.is_categorical]
    train, test = split.train, split.test
    y, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    lr = LogisticScorer(names, categorical, C=0.1, seed=0).fit(train, y).margin(test)
    print(f"logistic regression: AUROC {roc_auc_score(y_test, lr):.4f} AUPRC {average_precision_score(y_test, lr):.4f}",
          flush=True)
    X, X_test = train[names].astype(float), test[names].astype(float)
    full = lgb.Dataset(X, label=y.astype(float), categorical_feature=categorical,
                       params={"feature_pre_filter": False, "verbosity": -1}, free_raw_data=False).construct()
    folds = [(full.subset(sorted(a)), full.subset(sorted(b))) for a, b in person_folds(train, 3, 42)]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for metric in args.metrics.split(","):
        started = time.perf_counter()

        def objective(trial: optuna.Trial, metric: str = metric) -> float:
            params = {**search_space(trial, learning_rate), **LIGHTGBM_FIXED, "seed": 42, "metric": metric}
            scores, rounds = [], []
            for k, (fit, valid) in enumerate(folds):
                callbacks = [lgb.early_stopping(50, verbose=False)]
                if k == 0:
                    callbacks.append(LightGBMPruningCallback(trial, metric, valid_name="valid", report_interval=10))
                booster = lgb.train(params, fit, 1000, valid_sets=[valid], valid_names=["valid"], callbacks=callbacks)
                scores.append(booster.best_score["valid"][metric])
                rounds.append(booster.best_iteration)
            trial.set_user_attr("rounds", int(np.mean(rounds)))
            return float(np.mean(scores))

        study = optuna.create_study(
            direction="maximize" if metric == "auc" else "minimize",
            sampler=optuna.samplers.TPESampler(seed=42, n_startup_trials=10),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
        )
        for point in starting_points(learning_rate):
            study.enqueue_trial(point)
        study.optimize(objective, n_trials=args.trials)
        best = study.best_trial
        rounds = max(10, round(best.user_attrs["rounds"] * 1.5))  # all of training, not 2/3 of it
        params = {**best.params, **({"learning_rate": learning_rate} if learning_rate else {}), "bagging_freq": 1,
                  **LIGHTGBM_FIXED, "seed": 42}
        score = lgb.train(params, lgb.Dataset(X, y, categorical_feature=categorical), rounds).predict(
            X_test, raw_score=True)
        print(f"tuned on {metric} (best trial {best.number}, {rounds} rounds, {time.perf_counter() - started:.0f} s): "
              f"AUROC {roc_auc_score(y_test, score):.4f} AUPRC {average_precision_score(y_test, score):.4f}", flush=True)


if __name__ == "__main__":
    main()
