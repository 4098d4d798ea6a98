"""The real pipeline's feature table: train, register, reload the champion (the shared fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from falls_risk import tracking
from falls_risk.cli import main
from falls_risk.features import feature_names, load_feature_table


def test_champion_round_trips_from_the_registry(trained_model):
    tracking.configure(trained_model.tracking_uri)
    loaded = tracking.load_model(trained_model.model_uri)
    assert loaded.version == trained_model.version and loaded.name == "falls-risk"
    model = loaded.model
    assert model.feature_names_ == feature_names()
    assert model.kind_ == "lightgbm" and model.booster_.num_trees() >= 10
    table = load_feature_table(trained_model.workspace)
    X = table.head(100)
    np.testing.assert_allclose(model.predict_proba(X), trained_model.model.predict_proba(X))
    record = model.training_record_
    assert record.data.feature_config is not None and record.data.extract_date is not None
    # The Splink model travels with the model, so scoring links as training did.
    assert record.data.linkage_model["comparisons"]
    assert record.data.extract_sources and "population" in record.data.extract_sources
    assert set(model.reference_["features"]) == set(feature_names())


def test_out_of_time_metrics_are_sensible(trained_model):
    m = trained_model.metrics
    assert 0.5 < m["test_auroc"] <= 1.0
    assert m["test_auroc_ci_low"] <= m["test_auroc"] <= m["test_auroc_ci_high"]
    assert m["test_prevalence"] > 0
    assert 0 <= m["test_ece"] < 0.1


def test_scoring_artifacts_are_logged(trained_model, tmp_path):
    tracking.configure(trained_model.tracking_uri)
    scoring = tracking.download_artifact(trained_model.run_id, "scoring", tmp_path)
    assert json.loads((scoring / "feature_config.json").read_text())["min_match_probability"] > 0
    assert (scoring / "linkage" / "model.json").exists()
    assert (scoring / "manifest.json").exists()


def test_the_run_records_the_workspace_it_read_and_the_learning_rate_it_trained_at(trained_model, tmp_path):
    tracking.configure(trained_model.tracking_uri)
    config = json.loads((tracking.download_artifact(trained_model.run_id, "config/experiment.json", tmp_path)).read_text())
    # The fixture's YAML-equivalent says "workspace"; the run read the workspace it was given.
    assert config["data"]["workspace"] == str(Path(trained_model.workspace).resolve())
    assert trained_model.model.params["learning_rate"] > 0


@pytest.mark.slow
def test_cli_trains_the_baselines_on_the_workspace(trained_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yaml = tmp_path / "quick.yaml"
    yaml.write_text(
        "name: quick\nmodels:\n  - kind: age_sex_logistic\n  - kind: logistic\nevaluation: {bootstrap: 10}\n"
    )
    assert main(["train", str(yaml), "--workspace", str(trained_model.workspace)]) == 0
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlartifacts").is_dir()
    assert main(["compare"]) == 0
    assert (tmp_path / "leaderboard.csv").read_text().count("\n") == 3
