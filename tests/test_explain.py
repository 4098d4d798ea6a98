"""SHAP explanations: additivity, the two backends agree, and reasons read as plain language."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from falls_risk.errors import FallsRiskError, ModelError
from falls_risk.explain import (
    backends_agree,
    check_additivity,
    compute_contributions,
    describe_value,
    explain,
    explanation_summary,
)
from falls_risk.features.spec import FeatureSpec

SPECS = (
    FeatureSpec("age", "age", "demographics", aggregation="age_years", unit="years", window_label=""),
    FeatureSpec(
        "tenure", "housing tenure", "housing", aggregation="value", kind="categorical",
        categories=("owner", "council", "private rent"), window_label="",
    ),
    FeatureSpec(
        "amb_nc_365d", "ambulance calls for a fall where they were not taken to hospital",
        "ambulance service", window_days=365, unit="calls", missing_means="never missing: 0 when none",
    ),
    FeatureSpec(
        "amb_nc_ever", "ambulance calls for a fall where they were not taken to hospital",
        "ambulance service", window_days=None, unit="calls",
    ),
    FeatureSpec(
        "home_care_active", "receiving home care", "social care", aggregation="active_any", kind="binary",
        window_label="on the index date",
    ),
    FeatureSpec(
        "days_since_fall", "days since their last recorded fall (any agency)", "health board",
        aggregation="days_since", unit="days", window_label="", missing_means="no fall ever recorded",
    ),
    FeatureSpec("welfare_365d", "police concern-for-welfare incidents", "police", window_days=365),
)
NAMES = [s.name for s in SPECS]


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "person_key": [f"pk{i:05d}" for i in range(n)],
            "age": rng.integers(65, 100, n).astype(float),
            "tenure": rng.integers(0, 3, n).astype(float),
            "amb_nc_365d": rng.poisson(0.4, n).astype(float),
            "home_care_active": rng.integers(0, 2, n).astype(float),
            "days_since_fall": np.where(rng.random(n) < 0.5, np.nan, rng.integers(1, 2000, n)),
            "welfare_365d": rng.poisson(0.2, n).astype(float),
        }
    )
    X["amb_nc_ever"] = X["amb_nc_365d"] + rng.poisson(0.3, n)
    X.loc[rng.random(n) < 0.05, "tenure"] = np.nan
    logit = (
        -2.5 + 1.1 * X["amb_nc_365d"] + 0.04 * (X["age"] - 80) + 0.8 * X["tenure"].eq(1)
        + 0.6 * X["welfare_365d"] - 0.7 * X["home_care_active"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


class TreeModel:
    """The parts of FallsRiskModel that explain reads, around a real LightGBM booster."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster_ = booster
        self.feature_names_ = NAMES
        self.categorical_features_ = ["tenure"]
        self.calibrator_ = None

    def raw_margin(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(X.loc[:, NAMES].astype(float), raw_score=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-self.raw_margin(X)))


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return _frame(1500, seed=3)


@pytest.fixture(scope="module")
def model(data) -> TreeModel:
    X, y = data
    train = lgb.Dataset(X[NAMES], y, categorical_feature=["tenure"], free_raw_data=False)
    params = {"objective": "binary", "verbosity": -1, "num_leaves": 15, "learning_rate": 0.1,
              "num_threads": 1, "min_data_per_group": 20, "cat_smooth": 1, "seed": 1}
    return TreeModel(lgb.train(params, train, num_boost_round=60))


@pytest.fixture(scope="module")
def explanation(model, data):
    X, _ = data
    return explain(model, X.iloc[:300], specs=SPECS)


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


def test_a_person_seen_at_two_index_dates_gets_the_reasons_of_each_row(model, data):
    X, _ = data
    rows = X.iloc[:6].copy()
    rows.index = ["pk-a", "pk-a", "pk-b", "pk-b", "pk-c", "pk-c"]  # one person, several dates
    texts = explain(model, rows, specs=SPECS).reasons_text()
    alone = explain(model, X.iloc[:6].reset_index(drop=True), specs=SPECS).reasons_text()
    assert list(texts.index) == list(rows.index)
    assert texts.tolist() == alone.tolist()


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


def test_top_reason_names_the_persons_own_ambulance_calls(model, data):
    X, _ = data
    frame = X.iloc[:300].copy()
    frame.loc[frame.index[0], ["amb_nc_365d", "amb_nc_ever"]] = [2.0, 2.0]
    exp = explain(model, frame, specs=SPECS, top_n=3)
    reasons = exp.reasons()
    first = reasons[(reasons["row"] == frame.index[0]) & (reasons["rank"] == 1)].iloc[0]
    assert first["agency"] == "ambulance service"
    assert first["direction"] == "raises"
    assert first["contribution"] > 0
    assert "2 ambulance calls for a fall where they were not taken to hospital" in first["text"]
    text = exp.reasons_text().loc[frame.index[0]]
    assert text.startswith("Ambulance service: 2 ambulance calls for a fall")
    assert "raises risk by" in text


def test_reasons_are_ranked_by_size_and_lowering_reasons_are_available(explanation):
    raises = explanation.reasons(top_n=3)
    lowers = explanation.reasons(top_n=3, direction="lowers")
    assert (raises["contribution"] > 0).all() and (raises["direction"] == "raises").all()
    assert (lowers["contribution"] < 0).all() and (lowers["direction"] == "lowers").all()
    assert lowers["text"].str.len().gt(0).all()
    for _, group in raises.groupby("row"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["contribution"].is_monotonic_decreasing
    assert raises.groupby("row").size().max() == 3


def test_window_families_make_one_reason_with_their_summed_contribution(explanation):
    grouped = explanation.reasons(top_n=10, direction=None)
    per_row = grouped.groupby("row")["text"].apply(lambda t: t.str.contains("ambulance calls").sum())
    assert per_row.max() <= 1
    ungrouped = explanation.reasons(top_n=10, direction=None, group_windows=False)
    row = ungrouped["row"].iloc[0]
    fam = explanation.contributions.loc[row, ["amb_nc_365d", "amb_nc_ever"]].sum()
    amb = grouped[(grouped["row"] == row) & (grouped["agency"] == "ambulance service")]
    if len(amb):
        assert amb["contribution"].iloc[0] == pytest.approx(fam)


def test_reasons_text_groups_reasons_under_each_agency_once(explanation):
    texts = explanation.reasons_text(top_n=4, direction=None)
    assert len(texts) == 300
    for text in texts:
        for agency in ("Ambulance service:", "Social care:", "Police:", "Demographics:", "Housing:"):
            assert text.count(agency) <= 1


def test_agency_contributions_add_up_to_the_persons_total(explanation):
    by_agency = explanation.agency_contributions()
    assert set(by_agency.columns) == {"demographics", "housing", "ambulance service", "social care",
                                      "health board", "police"}
    np.testing.assert_allclose(by_agency.sum(axis=1), explanation.contributions.sum(axis=1))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("amb_nc_365d", 2, "2 ambulance calls for a fall where they were not taken to hospital, in the last 12 months"),
        ("amb_nc_365d", 1, "1 ambulance call for a fall where they were not taken to hospital, in the last 12 months"),
        ("amb_nc_365d", 0, "no ambulance calls for a fall where they were not taken to hospital, in the last 12 months"),
        ("amb_nc_ever", 3, "3 ambulance calls for a fall where they were not taken to hospital on record"),
        ("tenure", 1, "housing tenure: council"),
        ("home_care_active", 1, "receiving home care"),
        ("home_care_active", 0, "not receiving home care"),
        ("days_since_fall", 200, "their last recorded fall (any agency) was about 7 months ago"),
        ("days_since_fall", 3, "their last recorded fall (any agency) was 3 days ago"),
        ("days_since_fall", np.nan, "no fall ever recorded"),
        ("age", 84, "age: 84 years"),
        ("tenure", np.nan, "housing tenure: not recorded"),
    ],
)
def test_values_are_described_in_plain_language(name, value, expected):
    spec = next(s for s in SPECS if s.name == name)
    assert describe_value(spec, value) == expected


def test_every_registry_feature_reads_without_codes_or_nan():
    from falls_risk.features.registry import FEATURES

    for spec in FEATURES:
        for value in ([0, 1] if spec.is_categorical else [0, 1, 3, np.nan]):
            text = describe_value(spec, value)
            assert text and "nan" not in text and "_" not in text, (spec.name, value, text)


def test_missing_feature_columns_are_named(model, data):
    X, _ = data
    with pytest.raises(ModelError, match="amb_nc_365d"):
        explain(model, X.drop(columns=["amb_nc_365d"]), specs=SPECS)


def test_a_model_without_trees_is_refused_with_advice():
    class Logistic:
        feature_names_ = NAMES

    with pytest.raises(ModelError, match="LightGBM"):
        explain(Logistic(), pd.DataFrame({n: [0.0] for n in NAMES}), specs=SPECS)


def test_bad_parameters_name_the_parameter(explanation, model, data):
    with pytest.raises(FallsRiskError, match="top_n"):
        explanation.reasons(top_n=0)
    with pytest.raises(FallsRiskError, match="direction"):
        explanation.reasons(direction="up")
    with pytest.raises(FallsRiskError, match="backend"):
        compute_contributions(model, data[0], backend="kernel")


def test_full_contribution_vector_for_storage_beside_scores(explanation):
    stored = explanation.to_frame()
    assert [c for c in stored.columns if c != "shap__expected_value"] == [f"shap__{n}" for n in NAMES]
    total = stored.drop(columns="shap__expected_value").sum(axis=1) + stored["shap__expected_value"]
    np.testing.assert_allclose(total, explanation.raw_margin, atol=1e-6)


def test_global_importance_puts_the_strongest_driver_on_top(model, data):
    X, _ = data
    exp = explain(model, X, specs=SPECS)
    table = explanation_summary(exp)
    assert table["feature"].iloc[0] in {"amb_nc_365d", "amb_nc_ever", "tenure", "age"}
    assert table["mean_abs_shap"].is_monotonic_decreasing


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


def test_no_rows_gives_no_reasons(model, data):
    X, _ = data
    exp = explain(model, X.iloc[:0], specs=SPECS)
    assert exp.reasons().empty
    assert exp.reasons_text().empty
