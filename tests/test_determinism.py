"""The same inputs give the same outputs (issue 19.11): features built twice are equal; a model
trained twice with the same seed makes the same predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from falls_risk.features import build_features, parse_index_dates
from falls_risk.features.compute import load_feature_table
from tests.conftest import FEATURE_INDEX_DATES, copy_workspace


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["index_date", "person_key"]).reset_index(drop=True)


def test_features_built_twice_are_equal(linked_workspace, feature_workspace, tmp_path):
    again = copy_workspace(linked_workspace, tmp_path / "ws")
    build_features(again, parse_index_dates(FEATURE_INDEX_DATES), progress=False)
    first, second = load_feature_table(feature_workspace), load_feature_table(again)
    assert len(first) > 10_000 and first["label"].sum() > 0
    pd.testing.assert_frame_equal(_sorted(first), _sorted(second))


@pytest.mark.slow
def test_training_twice_with_the_same_seed_predicts_the_same(feature_workspace, tmp_path):
    from falls_risk.config import ExperimentConfig
    from falls_risk.modelling import run_experiment

    def train(name: str):
        config = ExperimentConfig.model_validate({
            "name": "determinism", "seed": 5,
            "models": [{"kind": "lightgbm", "name": "lgb", "params": {"num_boost_round": 40}},
                       {"kind": "logistic"}],
            "evaluation": {"bootstrap": 10},
            "tracking": {"experiment": "determinism"},
        })
        uri = f"sqlite:///{tmp_path / name / 'mlflow.db'}"
        (tmp_path / name).mkdir()
        return run_experiment(config, workspace=feature_workspace, tracking_uri=uri, progress=False)

    first, second = train("a"), train("b")
    table = load_feature_table(feature_workspace)
    for a, b in zip(first, second, strict=True):
        assert a.metrics == b.metrics
        pd.testing.assert_series_equal(pd.Series(a.model.predict_proba(table)), pd.Series(b.model.predict_proba(table)))
