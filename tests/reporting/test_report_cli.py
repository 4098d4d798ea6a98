"""`falls-risk report` end to end: a model trained and registered in a real MLflow store from the
shared synthetic world's feature workspace, then the report built from the registry alias."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from falls_risk.cli import main


@pytest.fixture(scope="module")
def champion(feature_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from falls_risk import tracking
    from falls_risk.config import ExperimentConfig
    from falls_risk.modelling.train import run_experiment

    store = tmp_path_factory.mktemp("mlflow_report")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    config = ExperimentConfig.model_validate({
        "name": "report-test",
        "data": {"workspace": str(feature_workspace)},
        "split": {"test_months": 6, "calibration_fraction": 0.25},
        "models": [{"kind": "lightgbm", "params": {"num_boost_round": 40, "num_leaves": 7, "learning_rate": 0.1}}],
        "evaluation": {"bootstrap": 20},
        "tracking": {"experiment": "report-test", "tracking_uri": uri},
    })
    [result] = run_experiment(config, progress=False)
    tracking.configure(uri)
    tracking.set_alias(result.version, "champion", "report test")
    return {"uri": uri, "run_id": result.run_id}


def test_report_command_writes_a_self_contained_report(champion, feature_workspace, world_dir, tmp_path):
    out = tmp_path / "reports"
    code = main([
        "report", "--workspace", str(feature_workspace), "--model", "models:/falls-risk@champion",
        "--out", str(out), "--tracking-uri", champion["uri"], "--explain-rows", "600",
        "--people-per-month", "10", "--people-per-month", "25", "--people-per-month", "100",
    ])
    assert code == 0
    html = (out / "model_report.html").read_text(encoding="utf-8")
    summary = json.loads((out / "model_report_summary.json").read_text(encoding="utf-8"))
    assert summary["model"]["run_id"] == champion["run_id"]
    assert [r["people_per_month"] for r in summary["capacity"]] == [10, 25, 100]
    assert summary["warnings"] == [] or all("admissions" in w for w in summary["warnings"])
    card = {c["number"]: c for c in summary["model_card"]}
    assert card["5b"]["text"] and card["12c"]["text"] and "trees" in card["12c"]["text"]
    assert {a["agency"] for a in summary["agencies"]} >= {"ambulance service", "health board", "social care"}
    assert all(a["auroc_without"] is not None for a in summary["agencies"])
    # No identifier of the world reaches the report: person keys, NHS numbers, postcodes.
    keys = pd.read_parquet(feature_workspace / "linked" / "population.parquet", columns=["person_key"])["person_key"]
    assert not any(k in html for k in keys.head(3000))
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    assert not any(str(n) in html for n in people["nhs_number"].astype(str).head(3000))
    if "postcode" in people:
        assert not any(str(p) in html for p in people["postcode"].dropna().astype(str).head(3000))


def test_report_without_features_says_which_command_to_run(tmp_path, capsys):
    code = main(["report", "--workspace", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1
    assert "falls-risk features" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "model_report.html").exists()


def test_report_for_an_unknown_model_names_it(champion, feature_workspace, tmp_path, capsys):
    code = main([
        "report", "--workspace", str(feature_workspace), "--model", "models:/falls-risk@nobody",
        "--out", str(tmp_path / "r"), "--tracking-uri", champion["uri"],
    ])
    assert code == 1
    assert "models:/falls-risk@nobody" in capsys.readouterr().err
