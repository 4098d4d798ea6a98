"""SHAP contributions: additivity, the two backends agree, the probability scale, clear refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from falls_risk.errors import ModelError
from falls_risk.explain import backends_agree, check_additivity, compute_contributions, explain
from tests.explain.explain_fixtures import NAMES, SPECS


def test_contributions_plus_expected_value_equal_the_raw_margin(explanation, model, data):
    X, _ = data
    margin = model.raw_margin(X.iloc[:300])
    total = explanation.contributions.sum(axis=1).to_numpy() + explanation.expected_value
    np.testing.assert_allclose(total, margin, atol=1e-6)
    assert list(explanation.contributions.columns) == NAMES
    assert explanation.additivity_gap < 1e-6


def test_shap_and_lightgbm_pred_contrib_agree_with_categoricals_and_missing(model, data):
    X, _ = data
    sample = X.iloc[:400]
    assert sample["tenure"].isna().any() and sample["days_since_fall"].isna().any()
    assert backends_agree(model, sample) < 1e-6
    a, ev_a = compute_contributions(model, sample, backend="shap")
    _, ev_b = compute_contributions(model, sample, backend="pred_contrib")
    assert ev_a == pytest.approx(ev_b)
    # Not trivially zero: the falls feature matters for someone.
    assert a["amb_nc_365d"].abs().max() > 0.1


def test_probability_contributions_add_up_to_probability_minus_base(explanation):
    total = explanation.probability_contributions.sum(axis=1) + explanation.base_probability
    np.testing.assert_allclose(total.to_numpy(), explanation.probability.to_numpy(), atol=1e-9)
    # Same sign as the log-odds contributions (a monotone link never flips a reason).
    signs = np.sign(explanation.probability_contributions.to_numpy()) * np.sign(
        explanation.contributions.to_numpy()
    )
    assert (signs >= 0).all()


def test_additivity_failure_is_reported_with_the_row():
    contributions = pd.DataFrame({"a": [0.5, 0.1]}, index=["r1", "r2"])
    with pytest.raises(ModelError, match="r2"):
        check_additivity(contributions, 0.0, np.array([0.5, 0.9]))


def test_identifier_columns_are_ignored_and_never_kept(explanation):
    assert "person_key" not in explanation.values.columns
    assert "person_key" not in explanation.contributions.columns
    assert "person_key" not in explanation.to_frame().columns


def test_missing_feature_columns_are_named(model, data):
    X, _ = data
    with pytest.raises(ModelError, match="amb_nc_365d"):
        explain(model, X.drop(columns=["amb_nc_365d"]), specs=SPECS)


def test_a_model_without_trees_is_refused_with_advice():
    class Logistic:
        feature_names_ = NAMES

    with pytest.raises(ModelError, match="LightGBM"):
        explain(Logistic(), pd.DataFrame({n: [0.0] for n in NAMES}), specs=SPECS)


def test_full_contribution_vector_for_storage_beside_scores(explanation):
    stored = explanation.to_frame()
    assert [c for c in stored.columns if c != "shap__expected_value"] == [f"shap__{n}" for n in NAMES]
    total = stored.drop(columns="shap__expected_value").sum(axis=1) + stored["shap__expected_value"]
    np.testing.assert_allclose(total, explanation.raw_margin, atol=1e-6)


def test_explains_the_real_falls_risk_model_with_calibration(data):
    from falls_risk.modelling.model import FallsRiskModel

    X, y = data
    real = FallsRiskModel(
        kind="lightgbm", specs=SPECS, params={"num_boost_round": 40, "num_leaves": 7}, random_state=0
    ).fit(X.iloc[:1000], y[:1000], X_calibration=X.iloc[1000:], y_calibration=y[1000:])
    exp = explain(real, X.iloc[:200])
    np.testing.assert_allclose(exp.probability, real.predict_proba(X.iloc[:200]))
    total = exp.probability_contributions.sum(axis=1) + exp.base_probability
    np.testing.assert_allclose(total, exp.probability, atol=1e-9)
    assert exp.specs["amb_nc_365d"].agency == "ambulance service"  # specs come from the model
