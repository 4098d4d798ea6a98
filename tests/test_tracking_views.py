"""What a data scientist sees in MLflow: a tuned run spans its tuning, each Optuna trial is a
child run with its dataset and a description, and the net-benefit grid is one table artifact
instead of 90 metrics."""

from __future__ import annotations

import json

from mlflow.tracking import MlflowClient

from falls_risk import tracking


def test_a_tuned_run_shows_its_trials_dataset_and_net_benefit_table(trained_model, tmp_path):
    tracking.configure(trained_model.tracking_uri)
    client = MlflowClient()
    run = client.get_run(trained_model.run_id)
    assert not [k for k in run.data.metrics if "net_benefit" in k]
    assert "test_auroc" in run.data.metrics
    assert run.data.tags["mlflow.note.content"].startswith("lightgbm_tuned of experiment 'fixture'")
    assert [i.tags[0].value for i in run.inputs.dataset_inputs] == ["training"]

    children = client.search_runs([run.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{trained_model.run_id}'")
    assert len(children) == 2  # the fixture's study has two trials
    for child in children:
        assert child.info.start_time >= run.info.start_time  # the parent spans the tuning
        assert child.info.end_time is not None and child.info.end_time <= run.info.end_time
        assert "cv_log_loss" in child.data.metrics and "learning_rate" in child.data.params
        assert "optuna-dashboard sqlite:///" in child.data.tags["mlflow.note.content"]
        [dataset] = child.inputs.dataset_inputs
        assert dataset.tags[0].value == "tuning"
        assert dataset.dataset.digest == run.inputs.dataset_inputs[0].dataset.digest
    assert sorted(c.data.metrics["trial_number"] for c in children) == [0.0, 1.0]

    table = json.loads(tracking.download_artifact(trained_model.run_id, "evaluation/net_benefit.json",
                                                  tmp_path).read_text())
    assert "threshold" in table["columns"] and "net_benefit_model" in table["columns"]
    assert len(table["data"]) == 30
