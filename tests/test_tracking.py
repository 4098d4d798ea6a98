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
