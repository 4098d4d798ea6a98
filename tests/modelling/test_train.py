"""run_experiment end to end on the synthetic table: MLflow run contents, registry, load, promote, compare."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from falls_risk import tracking
from falls_risk.cli import main
from falls_risk.config import ExperimentConfig, FeatureConfig
from falls_risk.features.manifest import FeaturesManifest
from falls_risk.modelling import run_experiment
from falls_risk.modelling.leaderboard import compare_runs
from tests.modelling.modelling_fixtures import SPECS

CI_METRICS = ("test_auroc", "test_auprc", "test_brier", "test_calibration_intercept", "test_calibration_slope",
              "test_ece", "test_ppv_top1pct", "test_sensitivity_top5pct")


@pytest.fixture(scope="module")
def experiment_runs(synthetic_frame, mlflow_store, tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    ws = root / "ws"
    (ws / "linkage").mkdir(parents=True)
    (ws / "linkage" / "model.json").write_text(json.dumps({"link_type": "link_only", "comparisons": []}))
    FeaturesManifest(
        registry_version="synthetic", feature_names=tuple(s.name for s in SPECS), index_dates=(), rows=0,
        label_known_until=date(2024, 12, 31), per_index_date={},
        config=FeatureConfig(min_match_probability=0.9, arrival_lag_days={"police_incidents": 61}),
    ).write(ws)
    config = ExperimentConfig.model_validate({
        "name": "unit", "seed": 3,
        "models": [{"kind": "previous_fall_rule"}, {"kind": "lightgbm_tuned", "name": "tuned"}],
        "tuning": {"n_trials": 2, "storage": str(root / "optuna.db"), "max_boost_rounds": 80},
        "evaluation": {"bootstrap": 20},
        "tracking": {"experiment": "unit-tests"},
    })
    results = run_experiment(config, workspace=ws, tracking_uri=mlflow_store, specs=SPECS,
                             registry_version="synthetic", frame=synthetic_frame, progress=False)
    return results, config, root


def test_each_model_is_a_registered_run_with_metrics_and_intervals(experiment_runs, mlflow_store):
    results, _, _ = experiment_runs
    tracking.configure(mlflow_store)
    assert [r.name for r in results] == ["previous_fall_rule", "tuned"]
    for result in results:
        run = mlflow.get_run(result.run_id)
        for metric in CI_METRICS:
            assert metric in run.data.metrics and f"{metric}_ci_low" in run.data.metrics, metric
        assert run.data.metrics["test_auroc_ci_low"] < run.data.metrics["test_auroc"]
        assert "test_auroc_sex_F" in run.data.metrics
        assert run.data.params["feature_table_hash"] == run.data.tags["feature_table_hash"]
        assert run.data.params["registry_version"] == "synthetic"
        assert run.data.tags["git_commit"]
        assert run.data.tags["registered_version"] == result.version
    assert int(results[1].version) == int(results[0].version) + 1


def test_run_artifacts_hold_what_report_and_scoring_need(experiment_runs, mlflow_store, tmp_path):
    results, _, _ = experiment_runs
    tracking.configure(mlflow_store)
    run_id = results[1].run_id
    names = {a.path for a in MlflowClient().list_artifacts(run_id, "plots")}
    assert names == {f"plots/{n}" for n in ("roc.png", "precision_recall.png", "calibration.png",
                                           "decision_curve.png")}
    preds = pd.read_parquet(tracking.download_artifact(run_id, "evaluation/test_predictions.parquet", tmp_path))
    assert list(preds.columns[:4]) == ["person_key", "index_date", "label", "prob"]
    assert preds["prob"].between(0, 1).all() and len(preds) == results[1].metrics["test_rows"]
    scoring = tracking.download_artifact(run_id, "scoring", tmp_path / "s")
    assert json.loads((scoring / "feature_config.json").read_text())["arrival_lag_days"] == {"police_incidents": 61}
    assert (scoring / "linkage" / "model.json").exists()
    reference = json.loads(tracking.download_artifact(run_id, "drift/reference.json", tmp_path / "r").read_text())
    assert "score" in reference and "age" in reference["features"]
    subgroups = pd.read_csv(tracking.download_artifact(run_id, "evaluation/subgroups.csv", tmp_path / "g"))
    assert {"sex", "age_band", "wimd_quintile", "local_authority"} == set(subgroups["attribute"])


def test_loaded_model_is_the_falls_risk_model_and_pyfunc_agrees(experiment_runs, mlflow_store, synthetic_split):
    results, _, _ = experiment_runs
    tracking.configure(mlflow_store)
    loaded = tracking.load_model(f"models:/falls-risk/{results[1].version}")
    assert loaded.version == results[1].version and loaded.run_id == results[1].run_id
    model = loaded.model
    assert model.kind_ == "lightgbm" and model.booster_ is not None
    X = synthetic_split.test.head(200)
    np.testing.assert_allclose(model.predict_proba(X), results[1].model.predict_proba(X))
    pyfunc = mlflow.pyfunc.load_model(results[1].model_uri)
    served = pyfunc.predict(X[model.feature_names_].astype("float64"))
    np.testing.assert_allclose(np.asarray(served), model.predict_proba(X))
    record = model.training_record_
    assert record.data.feature_config.min_match_probability == 0.9
    assert record.split.test_index_dates[-1] == date(2024, 10, 1) and record.data.registry_version == "synthetic"
    assert model.reference_["rows"] == results[1].metrics["test_rows"]


def test_rerun_resumes_the_same_tuning_study(experiment_runs, synthetic_frame, mlflow_store):
    """Re-running the experiment with a bigger budget continues the stored study: the trials
    already finished are kept and only the missing one runs (not a fresh study of three)."""
    import optuna

    results, config, root = experiment_runs
    storage = f"sqlite:///{root / 'optuna.db'}"
    name = results[1].tuning.study_name
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [name]
    assert name.startswith("unit.tuned.")
    before = optuna.load_study(study_name=name, storage=storage).trials
    finished = [t for t in before if t.state.is_finished()]
    assert len(finished) == 2

    rerun = config.model_copy(update={
        "models": [m for m in config.models if m.name == "tuned"],
        "tuning": config.tuning.model_copy(update={"n_trials": 3}),
    })
    [again] = run_experiment(rerun, workspace=root / "ws", tracking_uri=mlflow_store, specs=SPECS,
                             registry_version="synthetic", frame=synthetic_frame, progress=False)
    assert again.tuning.study_name == name  # the same study, resumed
    after = optuna.load_study(study_name=name, storage=storage).trials
    assert [t.number for t in after[: len(before)]] == [t.number for t in before]
    assert [t.params for t in after[: len(before)]] == [t.params for t in before]  # kept, not re-run
    assert len([t for t in after if t.state.is_finished()]) == 3  # one new trial
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [name]


def test_promote_records_who_when_why_and_loads_champion(experiment_runs, mlflow_store):
    results, _, _ = experiment_runs
    assert main(["promote", results[0].version, "--reason", "first baseline", "--tracking-uri", mlflow_store]) == 0
    assert main(["promote", results[1].version, "--reason", "beats the rule on AUPRC",
                 "--tracking-uri", mlflow_store]) == 0
    tracking.configure(mlflow_store)
    champion = tracking.load_model()
    assert champion.version == results[1].version
    mv = MlflowClient().get_model_version("falls-risk", results[1].version)
    assert mv.tags["alias.champion.reason"] == "beats the rule on AUPRC"
    assert mv.tags["alias.champion.by"] and mv.tags["alias.champion.at"].startswith("20")
    history = tracking.alias_history()
    assert history[-1]["previous_version"] == results[0].version


def test_promote_refuses_unknown_version_and_empty_reason(experiment_runs, mlflow_store, capsys):
    assert main(["promote", "999", "--reason", "x", "--tracking-uri", mlflow_store]) == 1
    assert "no version 999" in capsys.readouterr().err
    assert main(["promote", "1", "--reason", " ", "--tracking-uri", mlflow_store]) == 1
    # An alias MLflow reserves: one line saying what to choose instead, no traceback.
    assert main(["promote", "1", "--alias", "v2", "--reason", "x", "--tracking-uri", mlflow_store]) == 1
    err = capsys.readouterr().err
    assert "refused the alias 'v2'" in err and "Traceback" not in err


def test_compare_prints_and_writes_the_leaderboard(experiment_runs, mlflow_store, tmp_path, capsys):
    csv = tmp_path / "board.csv"
    assert main(["compare", "--tracking-uri", mlflow_store, "--csv", str(csv), "--experiment", "unit-tests"]) == 0
    board = pd.read_csv(csv)
    assert set(board["run_name"]) == {"previous_fall_rule", "tuned"}
    assert {"test_auroc_ci_low", "test_auroc_ci_high", "test_auprc", "test_ece"} <= set(board.columns)
    assert board["test_auroc"].is_monotonic_decreasing
    out = capsys.readouterr()
    assert "AUROC" in out.out + out.err


def test_compare_without_runs_says_what_to_do(experiment_runs, mlflow_store):
    from io import StringIO

    from rich.console import Console

    buf = StringIO()
    board = compare_runs(["no-such-experiment"], csv=None, tracking_uri=mlflow_store,
                         console=Console(file=buf, width=300))
    assert board.empty and "falls-risk train" in buf.getvalue()


def test_artifact_location_sits_beside_the_sqlite_store(experiment_runs, mlflow_store):
    tracking.configure(mlflow_store)
    exp = MlflowClient().get_experiment_by_name("unit-tests")
    assert exp.artifact_location == (Path(mlflow_store.removeprefix("sqlite:///")).parent
                                     / "mlartifacts" / "unit-tests").as_uri()


@pytest.mark.parametrize(("model", "says"), [
    ({"kind": "logistic", "params": {"C": 0}}, "'C' parameter"),
    ({"kind": "lightgbm", "params": {"num_leaves": 1}}, "num_leaves"),
])
def test_a_parameter_value_the_library_refuses_names_the_model_and_its_params(
    synthetic_frame, mlflow_store, tmp_path, model, says
):
    from falls_risk.errors import ConfigError

    config = ExperimentConfig.model_validate({"name": "bad", "models": [model], "evaluation": {"bootstrap": 5}})
    with pytest.raises(ConfigError, match=rf"Experiment 'bad', model '{model['kind']}'.*{says}.*Fix that model's params"):
        run_experiment(config, workspace=tmp_path / "ws", tracking_uri=mlflow_store, specs=SPECS,
                       registry_version="synthetic", frame=synthetic_frame, progress=False)


def test_an_empty_feature_list_is_refused_when_the_experiment_is_read():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="features"):
        ExperimentConfig.model_validate({"name": "x", "models": [{"kind": "lightgbm", "features": []}]})
