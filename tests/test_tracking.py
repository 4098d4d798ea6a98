"""falls_risk.tracking: store selection, clear errors when a model is missing."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from falls_risk import tracking
from falls_risk.errors import ModelError


def test_default_store_is_sqlite_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking.configure()
    assert uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert mlflow.get_tracking_uri() == uri
    assert tracking.artifact_root() == (tmp_path / "mlartifacts").as_uri()


def test_environment_overrides_default_and_argument_overrides_both(tmp_path, monkeypatch):
    env_uri = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    assert tracking.configure() == env_uri
    arg_uri = f"sqlite:///{tmp_path / 'arg.db'}"
    assert tracking.configure(arg_uri) == arg_uri


def test_telemetry_is_off():
    import os

    import falls_risk  # noqa: F401

    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_missing_champion_explains_how_to_get_one(tmp_path):
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ModelError, match="falls-risk promote"):
        tracking.load_model("models:/falls-risk@champion")


def test_latest_version_in_an_empty_store_says_how_to_train_one(tmp_path):
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ModelError, match="falls-risk train"):
        tracking.latest_version()


def test_promotion_needs_a_reason(tmp_path):
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ModelError, match="--reason"):
        tracking.set_alias("1", "champion", "")


def test_git_commit_is_read_without_changing_anything():
    info = tracking.git_commit()
    assert set(info) == {"git_commit", "git_dirty"}
    assert Path(tracking.__file__).name == "tracking.py"


def test_a_bare_path_as_tracking_uri_says_which_uri_to_give(tmp_path):
    with pytest.raises(ModelError, match=r"is a path, not a URI\. Give a SQLite store such as sqlite:///"):
        tracking.configure(str(tmp_path / "mlflow.db"))


def test_a_reading_command_refuses_a_store_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    misspelt = f"sqlite:///{tmp_path / 'mlfow.db'}"
    with pytest.raises(ModelError, match=r"No MLflow tracking store at .*mlfow\.db .*from --tracking-uri"):
        tracking.configure(misspelt, existing=True)
    assert not (tmp_path / "mlfow.db").exists()  # nothing was created
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"from the default store \./mlflow\.db"):
        tracking.configure(existing=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", misspelt)
    with pytest.raises(ModelError, match="from MLFLOW_TRACKING_URI"):
        tracking.configure(existing=True)


def test_an_existing_store_is_accepted_and_training_still_creates_one(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert tracking.configure(uri) == uri  # training: a new store is fine
    tracking.get_or_create_experiment("falls-risk")  # MLflow creates the database
    assert tracking.configure(uri, existing=True) == uri


@pytest.mark.parametrize("command", [
    ["compare"],
    ["promote", "1", "--reason", "better"],
    ["score", "--extract", "EX", "--as-of", "2024-01-01", "--out", "OUT/2024-01", "--capacity", "10"],
])
def test_every_reading_command_refuses_a_misspelt_tracking_uri(command, tmp_path, monkeypatch, capsys):
    from falls_risk.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "EX").mkdir()
    misspelt = f"sqlite:///{tmp_path / 'mlfow.db'}"
    assert main([*command, "--tracking-uri", misspelt]) == 1
    err = capsys.readouterr().err
    assert "No MLflow tracking store at" in err and "mlfow.db" in err
    assert not (tmp_path / "mlfow.db").exists()


def test_the_report_refuses_a_misspelt_tracking_uri(tmp_path):
    # `report` checks its workspace first; the model it reads comes through load_run_record.
    from falls_risk.reporting.report import load_run_record

    with pytest.raises(ModelError, match="No MLflow tracking store at"):
        load_run_record(tracking.CHAMPION_URI, f"sqlite:///{tmp_path / 'mlfow.db'}")
    assert not (tmp_path / "mlfow.db").exists()
