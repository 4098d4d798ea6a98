"""Experiment: how regularised logistic regression and LightGBM compare as the synthetic world's
fall hazard changes (issue 5's target, tuned LightGBM beating logistic regression, is a property
of the world as much as of the models).

Builds a world (default 70,000 people, seed 1, as ``bench_train.py``) with constants of
``falls_risk.synth.simulate`` overridden, ingests, links and builds quarterly features, then fits
on the training part of the temporal split and scores the out-of-time test (no calibration, no
MLflow: ranking metrics only):

* the logistic regression of ``experiments/baselines.yaml`` (C = 0.1);
* LightGBM with defaults (100 rounds) and a few regularised shapes, each with its rounds chosen
  by early stopping on a person-grouped fifth of the training rows.

    .venv/bin/python bench/world_variants.py --dir /tmp/wv [--set FALL_AGE_SLOPE=-0.03 ...]

``--set FALL_RR_ATTENUATION_PER_DECADE=0`` gives the world with age-independent relative risks.
The true probabilities' AUROC (the ceiling) is reported by ``bench_train.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("FALLS_RISK_SECRET", "test-secret-not-for-real-use")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb
from sklearn.metrics import average_precision_score, roc_auc_score

LIGHTGBM_SHAPES = {
    "leaves 15, min leaf 200": {"num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 200,
                                "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1,
                                "lambda_l2": 10},
    "leaves 7, path smoothing": {"num_leaves": 7, "learning_rate": 0.03, "min_data_in_leaf": 300,
                                 "feature_fraction": 0.5, "lambda_l2": 10, "path_smooth": 50},
    "leaves 31, min leaf 1000": {"num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 1000,
                                 "feature_fraction": 0.5, "lambda_l2": 10, "min_sum_hessian_in_leaf": 5},
}


def build(directory: Path, people: int, seed: int = 1) -> Path:
    from falls_risk.features import build_features, parse_index_dates
    from falls_risk.ingest import run_ingest
    from falls_risk.linkage import run_linkage
    from falls_risk.synth import generate_world

    world, ws = directory / "world", directory / "ws"
    if not (ws / "features" / "manifest.json").exists():
        generate_world(world, people=people, seed=seed, start=date(2019, 1, 1), end=date(2025, 12, 31), progress=False)
        run_ingest(world / "extract", ws, progress=False)
        run_linkage(ws, progress=False)
        build_features(ws, parse_index_dates("2021-01-01:2024-10-01:quarterly"), progress=False)
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--people", type=int, default=70_000)
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="override a constant of falls_risk.synth.simulate (JSON value)")
    args = parser.parse_args()

    from falls_risk.synth import simulate

    for item in args.set:
        name, value = item.split("=", 1)
        if not hasattr(simulate, name):
            parser.error(f"--set {item}: falls_risk.synth.simulate has no constant {name}")
        setattr(simulate, name, json.loads(value))

    from falls_risk.features.registry import FEATURES
    from falls_risk.modelling.data import load_features, person_folds, temporal_split
    from falls_risk.modelling.estimators import LogisticScorer

    started = time.perf_counter()
    ws = build(args.dir, args.people)
    split = temporal_split(load_features(ws), seed=42)
    names = [s.name for s in FEATURES]
    categorical = [s.name for s in FEATURES if s.is_categorical]
    train, test = split.train, split.test
    y, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    print(f"world and features {time.perf_counter() - started:.0f} s; train {len(train):,} rows "
          f"({int(y.sum()):,} falls), test {len(test):,} ({int(y_test.sum()):,})")

    def report(label: str, score) -> None:
        print(f"{label:<32} AUROC {roc_auc_score(y_test, score):.4f}  AUPRC {average_precision_score(y_test, score):.4f}",
              flush=True)

    report("logistic regression (C 0.1)", LogisticScorer(names, categorical, C=0.1, seed=0).fit(train, y).margin(test))
    X, X_test = train[names].astype(float), test[names].astype(float)
    base = {"objective": "binary", "verbosity": -1, "num_threads": 2, "seed": 1, "feature_pre_filter": False}
    report("LightGBM defaults (100 rounds)",
           lgb.train(base, lgb.Dataset(X, y, categorical_feature=categorical), 100).predict(X_test, raw_score=True))
    fit_rows, valid_rows = person_folds(train, 5, 0)[0]
    for label, shape in LIGHTGBM_SHAPES.items():
        params = {**base, **shape, "metric": "binary_logloss"}
        fit = lgb.Dataset(X.iloc[fit_rows], y[fit_rows], categorical_feature=categorical, free_raw_data=False)
        valid = lgb.Dataset(X.iloc[valid_rows], y[valid_rows], reference=fit)
        rounds = lgb.train(params, fit, 3000, valid_sets=[valid],
                           callbacks=[lgb.early_stopping(100, verbose=False)]).best_iteration
        final = lgb.train(params, lgb.Dataset(X, y, categorical_feature=categorical), round(rounds * 1.25))
        report(f"LightGBM {label} ({round(rounds * 1.25)})", final.predict(X_test, raw_score=True))


if __name__ == "__main__":
    main()
