"""Monitoring's pieces on small inputs: intervals (seeded, so reproducible), windows, warnings."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from falls_risk.monitor.assess import expected_over
from falls_risk.monitor.metrics import (
    metrics_with_intervals,
    observed_expected_interval,
    rate_difference,
    wilson,
)
from falls_risk.monitor.outcomes import outcome_window
from falls_risk.monitor.run import validation_warnings


def sample(n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = rng.beta(1.5, 20, n)
    y = (rng.random(n) < p).astype(int)
    return y, p


def test_metrics_are_sklearns_and_their_intervals_are_seeded():
    y, p = sample()
    flagged = p >= np.quantile(p, 0.95)
    first = metrics_with_intervals(y, p, flagged, n_bootstrap=100, seed=4)
    assert first["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert first["auprc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert first["observed_expected"] == pytest.approx(y.sum() / p.sum())
    assert first["ppv"] == pytest.approx(y[flagged].mean()) and first["sensitivity"] == pytest.approx(
        y[flagged].sum() / y.sum())
    for name in ("auroc", "auprc", "observed_expected", "calibration_slope", "ppv", "sensitivity"):
        assert first[f"{name}_ci_low"] <= first[name] <= first[f"{name}_ci_high"], name
    assert 0.7 < first["calibration_slope_ci_low"] < 1.0 < first["calibration_slope_ci_high"] < 1.3
    assert metrics_with_intervals(y, p, flagged, n_bootstrap=100, seed=4) == first
    assert metrics_with_intervals(y, p, flagged, n_bootstrap=100, seed=5)["auroc_ci_low"] != first["auroc_ci_low"]
    one_class = metrics_with_intervals(np.zeros(10, dtype=int), p[:10])
    assert one_class["auroc"] is None and one_class["observed_expected"] == 0.0


def test_small_group_intervals():
    assert wilson(0, 0) == (None, None)
    low, high = wilson(3, 10)
    assert low < 0.3 < high and 0 < low and high < 1
    low, high = observed_expected_interval(0, 2.0)
    assert low == 0.0 and high == pytest.approx(3.689 / 2.0, abs=1e-3)
    diff = rate_difference([1, 0, 0, 0] * 50, [1, 1, 0, 0] * 50, n_bootstrap=200, seed=1)
    assert diff["difference"] == pytest.approx(-0.25) and diff["ci_low"] < -0.25 < diff["ci_high"] < 0


def test_an_open_window_counts_its_elapsed_days_and_scales_the_expected_risk():
    window = outcome_window(date(2025, 6, 1), 365, date(2025, 12, 31))
    assert (window.elapsed_days, window.complete, window.started) == (213, False, True)
    p = np.array([0.1, 0.5])
    assert expected_over(window, p) == pytest.approx(1 - (1 - p) ** (213 / 365))
    complete = outcome_window(date(2024, 6, 1), 365, date(2025, 12, 31))
    assert complete.complete and expected_over(complete, p) is p
    assert not outcome_window(date(2026, 1, 1), 365, date(2025, 12, 31)).started


def test_a_complete_month_outside_the_validation_interval_warns():
    validated = {"test_auroc_ci_low": 0.70, "test_auroc_ci_high": 0.76,
                 "test_observed_expected_ci_low": 0.9, "test_observed_expected_ci_high": 1.1}
    month = {"month": "2026-01", "window_complete": True, "auroc": 0.65, "observed_expected": 1.0,
             "model": {"version": "3"}}
    [warning] = validation_warnings(month, validated)
    assert "2026-01: realised auroc 0.650 is outside the validation interval 0.700-0.760 of model v3" in warning
    assert len(validation_warnings(month | {"observed_expected": 1.4}, validated)) == 2
    assert validation_warnings(month | {"auroc": 0.72}, validated) == []
    assert validation_warnings(month | {"window_complete": False}, validated) == []  # partial months never warn
