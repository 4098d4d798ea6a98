"""Experiment YAML files: typed, unknown keys refused with the key named, shipped files valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from falls_risk.config import ExperimentConfig, load_experiment_config
from falls_risk.errors import ConfigError

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("name", ["baselines.yaml", "lightgbm_optuna.yaml"])
def test_shipped_experiments_parse(name):
    config = load_experiment_config(EXPERIMENTS / name)
    assert config.models


def test_baselines_cover_the_issue():
    kinds = {m.kind for m in load_experiment_config(EXPERIMENTS / "baselines.yaml").models}
    assert {"age_sex_logistic", "previous_fall_rule", "deficit_score", "logistic", "lightgbm"} <= kinds
    tuned = load_experiment_config(EXPERIMENTS / "lightgbm_optuna.yaml")
    assert tuned.models[0].kind == "lightgbm_tuned" and tuned.tuning.n_trials == 30


def test_unknown_key_is_an_error_naming_it(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nmodels: [{kind: lightgbm}]\ntuning: {n_trails: 5}\n")
    with pytest.raises(ConfigError, match=r"x\.yaml.*tuning\.n_trails"):
        load_experiment_config(path)


def test_bad_values_are_named(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nmodels: [{kind: forest}]\nevaluation: {capacities: [2]}\n")
    with pytest.raises(ConfigError) as err:
        load_experiment_config(path)
    assert "models.0.kind" in str(err.value) and "evaluation.capacities" in str(err.value)


def test_duplicate_model_names_are_refused():
    with pytest.raises(ValueError, match="unique"):
        ExperimentConfig.model_validate({"name": "x", "models": [{"kind": "lightgbm"}, {"kind": "lightgbm"}]})
