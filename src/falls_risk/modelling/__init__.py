"""Modelling: experiments, temporal splits, baselines, tuning, calibration, evaluation, fairness.

Public API::

    FallsRiskModel                      # model.py: the model object everyone consumes
    run_experiment(config, ...)         # train.py: what `falls-risk train` runs
    train_model(train, calibration, kind=..., params=..., specs=..., features=...)
    evaluate_model(model, test, ...)
    temporal_split(frame, ...), load_features(workspace, index_dates)
    promote(version, alias, reason)
"""

from falls_risk.modelling.data import feature_table_hash, load_features, temporal_split
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.modelling.train import (
    ModelEvaluation,
    RunResult,
    evaluate_model,
    leaderboard_frame,
    promote,
    run_experiment,
    train_model,
)

__all__ = [
    "FallsRiskModel",
    "ModelEvaluation",
    "RunResult",
    "evaluate_model",
    "feature_table_hash",
    "leaderboard_frame",
    "load_features",
    "promote",
    "run_experiment",
    "temporal_split",
    "train_model",
]
