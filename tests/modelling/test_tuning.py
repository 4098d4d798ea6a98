"""Optuna tuning: resumable SQLite study, crashed and failed trials retried, budget respected."""

from __future__ import annotations

import contextlib
import time
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from falls_risk.config import TuningConfig
from falls_risk.errors import ModelError
from falls_risk.modelling import tuning
from falls_risk.modelling.tuning import open_storage, study_name, tune_lightgbm
from tests.modelling.modelling_fixtures import FEATURES, SPECS

CATEGORICAL = [s.name for s in SPECS if s.is_categorical]


@pytest.fixture(scope="module")
def small_train():
    from falls_risk.modelling.data import temporal_split
    from tests.modelling.modelling_fixtures import make_feature_frame

    return temporal_split(make_feature_frame(people=500, seed=4), seed=4).train


def _tune(train, path, n_trials, name="t", **kw):
    config = TuningConfig(n_trials=n_trials, storage=path, max_boost_rounds=60, early_stopping_rounds=10,
                          heartbeat_seconds=kw.pop("heartbeat_seconds", 30), **kw)
    return tune_lightgbm(train, features=FEATURES, categorical=CATEGORICAL, config=config, cv_folds=3,
                         name=name, seed=1, progress=False)


def _states(path, name):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{path}")
    return [t.state for t in study.trials], study


def test_rerun_continues_the_study_up_to_the_budget(small_train, tmp_path):
    path = tmp_path / "optuna.db"
    first = _tune(small_train, path, n_trials=2)
    assert first.trials["complete"] + first.trials["pruned"] == 2
    second = _tune(small_train, path, n_trials=3)
    states, _ = _states(path, "t")
    # Only the one missing trial ran; the study is the same one.
    assert len(states) == 3
    assert second.trials["complete"] + second.trials["pruned"] == 3
    assert second.best_value <= first.best_value
    assert {"learning_rate", "num_leaves", "min_data_in_leaf"} <= set(second.best_params)
    assert second.num_boost_round >= 10


def test_a_fixed_learning_rate_is_not_searched_and_reaches_the_final_model(small_train, tmp_path):
    path = tmp_path / "optuna.db"
    result = _tune(small_train, path, n_trials=3, learning_rate=0.07)
    _, study = _states(path, "t")
    # No trial searched the rate: TPE draws the rest, and the starting points drop their own rates.
    assert all("learning_rate" not in t.params for t in study.trials)
    assert result.best_params["learning_rate"] == 0.07


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_crashed_running_trial_is_retried_with_same_params(small_train, tmp_path):
    path = tmp_path / "optuna.db"
    config = TuningConfig(n_trials=2, storage=path, heartbeat_seconds=1)
    storage = open_storage(path, config)
    study = optuna.create_study(study_name="t", storage=storage, direction="minimize")
    # A trial that started (heartbeat recorded) in a process that then died.
    crashed = study.ask()
    params = tuning.search_space(crashed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        storage.record_heartbeat(crashed._trial_id)
    # Well past the grace period (2 x heartbeat): with half a second to spare, the first check
    # sometimes came before the crashed trial counted as stale, and new trials ran first.
    time.sleep(4.0)
    _tune(small_train, path, n_trials=2, heartbeat_seconds=1)
    states, study = _states(path, "t")
    assert states[0] == TrialState.FAIL
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 2
    retry = [t for t in finished if t.system_attrs.get("failed_trial") == crashed.number]
    assert len(retry) == 1
    assert retry[0].params["learning_rate"] == pytest.approx(params["learning_rate"])


def test_failed_trial_is_requeued_not_lost(small_train, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = tuning._Objective.__call__

    def flaky(self, trial):
        calls["n"] += 1
        if calls["n"] == 1:
            tuning.search_space(trial)  # parameters drawn, then the trial dies
            raise RuntimeError("transient failure")
        return original(self, trial)

    monkeypatch.setattr(tuning._Objective, "__call__", flaky)
    path = tmp_path / "optuna.db"
    result = _tune(small_train, path, n_trials=2)
    states, study = _states(path, "t")
    assert states.count(TrialState.FAIL) == 1
    assert result.trials["complete"] + result.trials["pruned"] == 2
    assert result.retried == [0]
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == 0)
    assert retry.params == study.trials[0].params


def test_persistent_failure_stops_with_a_clear_error(small_train, tmp_path, monkeypatch):
    def broken(self, trial):
        raise RuntimeError("always broken")

    monkeypatch.setattr(tuning._Objective, "__call__", broken)
    with pytest.raises(ModelError, match="keeps failing.*resumes"):
        _tune(small_train, tmp_path / "optuna.db", n_trials=1, max_retries=1)


def test_study_name_changes_with_the_data_and_the_tuning_settings_but_not_the_budget():
    assert study_name("exp", "lgbm", "aaa") != study_name("exp", "lgbm", "bbb")
    assert study_name("exp", "lgbm", "aaa") == study_name("exp", "lgbm", "aaa")

    def name(seed=1, **settings):
        return study_name("exp", "lgbm", "aaa", tuning.study_settings(TuningConfig(**settings), seed=seed))

    # A study tuned at another learning rate, fold count or seed measured something else: a new study.
    assert name() != name(learning_rate=0.05) != name(folds_per_trial=3)
    assert name() != name(seed=2)
    # A bigger budget or a longer heartbeat continues the same study.
    assert name() == name(n_trials=60, heartbeat_seconds=5, timeout_minutes=10)


_KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from modelling_fixtures import FEATURES, SPECS, make_feature_frame
from falls_risk.config import TuningConfig
from falls_risk.modelling import tuning
from falls_risk.modelling.data import temporal_split

original = tuning._Objective.__call__
def slow(self, trial):
    time.sleep(1.5)  # long enough to be killed mid-trial
    return original(self, trial)
tuning._Objective.__call__ = slow
split = temporal_split(make_feature_frame(people=600, seed=5), seed=5)
config = TuningConfig(n_trials=6, storage={path!r}, max_boost_rounds=40, early_stopping_rounds=5,
                      heartbeat_seconds=1)
tuning.tune_lightgbm(split.train, features=FEATURES, categorical=["sex", "wimd_quintile", "local_authority"],
                     config=config, cv_folds=3, name="killed", seed=2, progress=False)
"""


def _study_exists(path, name) -> bool:
    """Looked up with sqlite3 itself: opening the file with Optuna while the tuning process is
    still creating its tables would race it to create them (a UNIQUE constraint error)."""
    import sqlite3

    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as con:
            return con.execute("SELECT count(*) FROM studies WHERE study_name = ?", (name,)).fetchone()[0] > 0
    except sqlite3.Error:
        return False


@pytest.mark.slow
def test_killed_process_resumes_and_retries_the_interrupted_trial(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "optuna.db"
    script = tmp_path / "tune.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(Path(__file__).parent), path=str(path)))
    proc = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if _study_exists(path, "killed"):
                study = optuna.load_study(study_name="killed", storage=f"sqlite:///{path}")
                states = [t.state for t in study.trials]
                if states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) >= 2 and (
                    states and states[-1] == TrialState.RUNNING
                ):
                    break
        proc.kill()
    finally:
        proc.wait()
    killed_states, _ = _states(path, "killed")
    assert TrialState.RUNNING in killed_states
    time.sleep(3)  # the interrupted trial's heartbeat goes stale
    rerun = subprocess.run([sys.executable, str(script)], check=False, timeout=300)
    assert rerun.returncode == 0
    states, study = _states(path, "killed")
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 6
    interrupted = [t.number for t in study.trials if t.state == TrialState.FAIL]
    assert interrupted, "the killed trial should have been failed as stale"
    retried = {t.system_attrs.get("failed_trial") for t in study.trials}
    assert set(interrupted) <= retried
