"""FallsRiskModel: the estimator contract, the baselines, calibrated output, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from falls_risk.errors import FallsRiskError, ModelError
from falls_risk.modelling import train_model
from falls_risk.modelling.model import FallsRiskModel
from tests.modelling.modelling_fixtures import FEATURES, SPECS

KINDS = ["age_sex_logistic", "previous_fall_rule", "deficit_score", "logistic", "lightgbm"]


@pytest.fixture(scope="module")
def fitted(synthetic_split):
    s = synthetic_split
    return {
        kind: train_model(s.train, s.calibration, kind=kind, specs=SPECS, registry_version="test", seed=1)
        for kind in KINDS
    }


def test_init_stores_parameters_only_and_clones():
    model = FallsRiskModel(kind="logistic", params={"C": 0.5}, specs=SPECS)
    assert not hasattr(model, "feature_names_")
    twin = clone(model)
    assert twin.get_params()["params"] == {"C": 0.5}


@pytest.mark.parametrize("kind", KINDS)
def test_every_baseline_gives_calibrated_probabilities(fitted, synthetic_split, kind):
    model = fitted[kind]
    test = synthetic_split.test
    p = model.predict_proba(test)
    assert p.shape == (len(test),)
    assert np.all((p > 0) & (p < 1))
    # Calibrated on the slice: mean predicted risk equals the observed rate there...
    cal = synthetic_split.calibration
    assert model.predict_proba(cal).mean() == pytest.approx(cal["label"].mean(), rel=0.02)
    # ...and stays close out of time for models that see age (risk drifts up as the cohort ages).
    if "age" in model.feature_names_:
        assert p.mean() == pytest.approx(test["label"].mean(), rel=0.15)
    assert roc_auc_score(test["label"], p) > 0.55
    assert model.calibrator_.method in ("isotonic", "platt")
    assert set(model.calibration_scores_) == {"isotonic", "platt"}
    assert model.registry_version_ == "test"


def test_fitted_attributes_describe_the_model(fitted):
    lgbm = fitted["lightgbm"]
    assert lgbm.kind_ == "lightgbm" and lgbm.booster_ is not None
    assert lgbm.feature_names_ == FEATURES
    assert lgbm.categorical_features_ == ["sex", "wimd_quintile", "local_authority"]
    assert lgbm.categories_["sex"] == ["F", "M", "U"]
    assert lgbm.booster_.feature_name() == FEATURES
    assert fitted["age_sex_logistic"].feature_names_ == ["age", "sex"]
    assert fitted["age_sex_logistic"].booster_ is None
    assert fitted["previous_fall_rule"].kind_ == "rule"
    assert set(fitted["previous_fall_rule"].feature_names_) == {"fall_admissions_12m", "ambulance_falls_12m"}
    assert "dementia" in fitted["deficit_score"].feature_names_


def test_raw_margin_is_the_booster_log_odds(fitted, synthetic_split):
    lgbm = fitted["lightgbm"]
    X = synthetic_split.test.head(50)
    margin = lgbm.raw_margin(X)
    expected = lgbm.booster_.predict(X[FEATURES].astype(float), raw_score=True)
    np.testing.assert_allclose(margin, expected)
    # Calibration is monotone: ranking by margin and by probability agree.
    order = np.argsort(margin)
    assert np.all(np.diff(lgbm.predict_proba(X)[order]) >= -1e-12)


def test_learned_models_beat_the_age_sex_baseline(fitted, synthetic_split):
    test = synthetic_split.test
    auc = {k: roc_auc_score(test["label"], m.predict_proba(test)) for k, m in fitted.items()}
    assert auc["logistic"] > auc["age_sex_logistic"] + 0.02
    assert auc["lightgbm"] > auc["age_sex_logistic"] + 0.02


def test_reference_is_json_and_covers_features_and_score(fitted, synthetic_split):
    model = fitted["lightgbm"].set_reference(synthetic_split.test)
    ref = json.loads(json.dumps(model.reference_))
    assert set(ref["features"]) == set(FEATURES)
    assert ref["features"]["sex"]["labels"] == ["F", "M", "U"]
    assert sum(ref["features"]["age"]["proportions"]) + ref["features"]["age"]["missing"] == pytest.approx(1)
    assert ref["features"]["wimd_quintile"]["missing"] > 0
    assert sum(ref["score"]["proportions"]) == pytest.approx(1)


def test_feature_subset_for_ablation(synthetic_split):
    s = synthetic_split
    without_police = [f for f in FEATURES if f != "welfare_checks_12m"]
    model = train_model(s.train, s.calibration, kind="lightgbm", specs=SPECS, features=without_police,
                        registry_version="test")
    assert model.feature_names_ == without_police
    assert "welfare_checks_12m" not in model.booster_.feature_name()


def test_missing_feature_column_names_it(fitted, synthetic_split):
    X = synthetic_split.test.drop(columns=["dementia"])
    with pytest.raises(ModelError, match="dementia"):
        fitted["lightgbm"].predict_proba(X)


def test_unknown_parameter_and_kind_are_named(synthetic_split):
    s = synthetic_split
    with pytest.raises(FallsRiskError, match="'model kind'.*'forest'"):
        train_model(s.train, s.calibration, kind="forest", specs=SPECS, registry_version="t")
    with pytest.raises(FallsRiskError, match=r"model.params for logistic.*\['penalty'\]"):
        train_model(s.train, s.calibration, kind="logistic", params={"penalty": "l1"}, specs=SPECS,
                    registry_version="t")


def test_unknown_labels_are_refused(synthetic_split):
    train = synthetic_split.train.copy()
    train["label"] = train["label"].astype("Float64")
    train.loc[0, "label"] = None
    with pytest.raises(ModelError, match="missing labels"):
        train_model(train, kind="logistic", specs=SPECS, registry_version="t")
