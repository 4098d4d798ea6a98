"""Calibration choice, the temporal / person split, and grouped folds."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from falls_risk.errors import ModelError
from falls_risk.modelling.calibration import choose_calibrator
from falls_risk.modelling.data import person_folds, temporal_split
from tests.modelling.modelling_fixtures import make_feature_frame


def test_isotonic_wins_when_the_margin_is_not_a_logit():
    rng = np.random.default_rng(0)
    margin = rng.uniform(-3, 3, 20_000)
    # True risk is a step function of the margin: no sigmoid fits it, isotonic does.
    risk = np.where(margin > 1, 0.4, np.where(margin > -1, 0.1, 0.02))
    y = (rng.random(len(margin)) < risk).astype(int)
    calibrator, scores = choose_calibrator(margin, y)
    assert calibrator.method == "isotonic"
    assert scores["isotonic"] < scores["platt"]
    assert calibrator.predict(np.array([2.0]))[0] == pytest.approx(0.4, abs=0.03)


def test_platt_wins_when_the_margin_is_a_shifted_logit():
    rng = np.random.default_rng(1)
    margin = rng.normal(-3, 1, 5_000)
    y = (rng.random(len(margin)) < 1 / (1 + np.exp(-(0.5 + 0.8 * margin)))).astype(int)
    calibrator, _ = choose_calibrator(margin, y)
    assert calibrator.method == "platt"
    assert calibrator.coef_ == pytest.approx(0.8, abs=0.15)


def test_calibration_needs_both_outcomes():
    with pytest.raises(ModelError, match="calibration"):
        choose_calibrator(np.zeros(10), np.zeros(10, dtype=int))


def test_split_is_out_of_time_and_person_disjoint():
    frame = make_feature_frame(people=400, seed=2, unknown_after=date(2023, 12, 31))
    split = temporal_split(frame, test_months=12, calibration_fraction=0.25, seed=0)
    # The last labelled index date is 2023-10-01: test = the four quarters ending there.
    assert split.info["test_index_dates"] == ["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01"]
    assert split.train["index_date"].max() < date(2023, 1, 1)
    assert split.calibration["index_date"].max() < date(2023, 1, 1)
    assert not set(split.train["person_key"]) & set(split.calibration["person_key"])
    assert split.info["persons"]["calibration"] == pytest.approx(100, abs=1)
    # Rows with unknown labels (2024 index dates) are in no part.
    assert split.info["unlabelled_rows_dropped"] == 400 * 4
    assert split.test["label"].notna().all()


def test_gap_keeps_training_label_windows_out_of_the_test_period():
    frame = make_feature_frame(people=300, seed=2)
    split = temporal_split(frame, test_months=12, gap_days=365, seed=0)
    assert max(split.info["train_index_dates"]) == "2022-10-01"
    assert min(split.info["test_index_dates"]) == "2024-01-01"


def test_split_says_what_to_do_when_nothing_is_left_for_training():
    frame = make_feature_frame(people=200, seed=2, dates=[date(2024, 1, 1), date(2024, 4, 1)])
    with pytest.raises(ModelError, match="test_months"):
        temporal_split(frame, test_months=12)


def test_person_folds_never_share_a_person():
    frame = make_feature_frame(people=300, seed=2)
    for train_idx, valid_idx in person_folds(frame, 3, seed=0):
        assert not set(frame["person_key"].iloc[train_idx]) & set(frame["person_key"].iloc[valid_idx])
