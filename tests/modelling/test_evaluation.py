"""Out-of-time metrics: sklearn values, person-bootstrap intervals, capacity, decision curve, subgroups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from falls_risk.modelling.evaluation import capacity_flags, evaluate_predictions, net_benefit
from falls_risk.modelling.fairness import age_band, subgroup_columns, subgroup_metrics
from falls_risk.modelling.roles import resolve_roles


@pytest.fixture(scope="module")
def predictions():
    rng = np.random.default_rng(1)
    persons = np.repeat(np.arange(3000), 4)
    dates = np.tile(np.array(["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]), 3000)
    p = np.clip(rng.beta(1.2, 20, len(persons)), 1e-4, 0.9)
    y = (rng.random(len(p)) < p).astype(int)  # p are the true probabilities: perfectly calibrated
    return y, p, dates, persons


def test_metrics_match_sklearn_and_intervals_bracket_them(predictions):
    y, p, dates, persons = predictions
    ev = evaluate_predictions(y, p, dates, persons, n_bootstrap=60, seed=1)
    m = ev.metrics
    assert m["test_auroc"] == pytest.approx(roc_auc_score(y, p))
    assert m["test_auprc"] == pytest.approx(average_precision_score(y, p))
    assert m["test_brier"] == pytest.approx(brier_score_loss(y, p))
    for name in ("auroc", "auprc", "brier", "calibration_slope", "calibration_intercept", "ppv_top2pct"):
        assert m[f"test_{name}_ci_low"] <= m[f"test_{name}"] <= m[f"test_{name}_ci_high"], name
    # True probabilities are calibrated: slope ~1, intercept ~0, small ECE.
    assert m["test_calibration_slope_ci_low"] < 1.0 < m["test_calibration_slope_ci_high"]
    assert m["test_calibration_slope_ci_high"] - m["test_calibration_slope_ci_low"] < 0.5
    assert m["test_ece"] < 0.01
    assert ev.info == {"bootstrap_resamples": 60, "bootstrap_unit": "person", "index_dates": 4}


def test_bootstrap_is_reproducible_with_the_seed(predictions):
    y, p, dates, persons = predictions
    a = evaluate_predictions(y, p, dates, persons, n_bootstrap=10, seed=5).metrics
    b = evaluate_predictions(y, p, dates, persons, n_bootstrap=10, seed=5).metrics
    assert a == b


def test_miscalibrated_scores_show_a_slope_away_from_one(predictions):
    y, p, dates, persons = predictions
    logit = np.log(p / (1 - p))
    overconfident = 1 / (1 + np.exp(-(2 * logit + 3)))  # spread too wide
    m = evaluate_predictions(y, overconfident, dates, persons, n_bootstrap=0).metrics
    assert m["test_calibration_slope"] == pytest.approx(0.5, abs=0.08)
    assert m["test_ece"] > 0.01


def test_capacity_flags_the_top_share_at_each_index_date():
    p = np.array([0.9, 0.1, 0.2, 0.3] * 25 + [0.05] * 100)
    dates = np.array(["a"] * 100 + ["b"] * 100)
    flags = capacity_flags(p, dates, 0.02)
    assert flags[:100].sum() == 2 and flags[100:].sum() == 2
    assert set(p[:100][flags[:100]]) == {0.9}


def test_capacity_metrics_count_flagged_per_date(predictions):
    y, p, dates, persons = predictions
    m = evaluate_predictions(y, p, dates, persons, n_bootstrap=0).metrics
    assert m["test_flagged_top2pct"] == 60  # 2% of 3,000 at each date
    top = capacity_flags(p, dates, 0.02)
    assert m["test_ppv_top2pct"] == pytest.approx(y[top].mean())
    assert m["test_sensitivity_top2pct"] == pytest.approx(y[top].sum() / y.sum())


def test_net_benefit_formula():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.2, 0.6, 0.1, 0.05])
    # threshold 0.5: TP=1 (0.9), FP=1 (0.6): 1/5 - 1/5 * 1 = 0
    # threshold 0.15: TP=2, FP=1: 2/5 - 1/5 * 0.15/0.85
    nb = net_benefit(y, p, [0.5, 0.15])
    assert nb[0] == pytest.approx(0.0)
    assert nb[1] == pytest.approx(0.4 - 0.2 * 0.15 / 0.85)


def test_decision_curve_has_model_treat_all_and_interval(predictions):
    y, p, dates, persons = predictions
    ev = evaluate_predictions(y, p, dates, persons, n_bootstrap=20, thresholds=[0.02, 0.05, 0.1])
    curve = ev.decision_curve
    assert list(curve["threshold"]) == [0.02, 0.05, 0.1]
    assert (curve["net_benefit_model"] >= curve["net_benefit_treat_all"] - 1e-9).all()
    assert "test_net_benefit_5pct" in ev.metrics and "test_net_benefit_5pct_ci_low" in ev.metrics


def test_age_bands():
    bands = age_band(pd.Series([64, 65, 74, 75, 84, 85, 101, None]))
    assert list(bands) == ["under 65", "65-74", "65-74", "75-84", "75-84", "85+", "85+", "unknown"]


def test_subgroups_via_metricframe(synthetic_split, specs):
    test = synthetic_split.test
    rng = np.random.default_rng(0)
    p = np.clip(test["true_risk"].to_numpy() + rng.normal(0, 0.005, len(test)), 1e-4, 0.99)
    groups = subgroup_columns(test, specs, resolve_roles(specs))
    assert list(groups.columns) == ["sex", "age_band", "wimd_quintile", "local_authority"]
    threshold = float(np.quantile(p, 0.98))
    table, summary = subgroup_metrics(test["label"], p, groups, p >= threshold)
    female = table[(table["attribute"] == "sex") & (table["group"] == "F")].iloc[0]
    mask = (groups["sex"] == "F").to_numpy()
    y = test["label"].to_numpy()
    assert female["rows"] == mask.sum()
    assert female["auroc"] == pytest.approx(roc_auc_score(y[mask], p[mask]))
    missed = ((p[mask] < threshold) & (y[mask] == 1)).sum() / y[mask].sum()
    assert female["false_negative_rate"] == pytest.approx(missed)
    assert female["observed_expected"] == pytest.approx(y[mask].sum() / p[mask].sum())
    assert set(table[table["attribute"] == "local_authority"]["group"]) == {"Cardiff", "Swansea", "Newport"}
    assert "unknown" in set(table[table["attribute"] == "wimd_quintile"]["group"])
    assert "test_auroc_sex_F" in summary and "test_false_negative_rate_gap_age_band" in summary


def test_subgroup_false_negative_rate_is_that_of_the_capacity_list_itself():
    # Two admitted women with the same risk; the list had room for one of them (a tie at the cut-off,
    # as isotonic calibration makes): one of two missed, not none.
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.3, 0.3, 0.1, 0.1, 0.2, 0.05])
    flagged = np.array([True, False, False, False, True, False])
    groups = pd.DataFrame({"sex": ["F", "F", "F", "M", "M", "M"]})
    table, _ = subgroup_metrics(y, p, groups, flagged)
    fnr = table.set_index("group")["false_negative_rate"]
    assert fnr["F"] == pytest.approx(0.5) and fnr["M"] == pytest.approx(0.0)
