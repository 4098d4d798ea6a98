import numpy as np
import pandas as pd

from falls_risk.features.spec import FeatureSpec
from falls_risk.modelling.drift import build_reference
from falls_risk.scoring.drift import drift_table, drift_warnings

SPECS = (
    FeatureSpec("age", "age", "demographics", aggregation="value", unit="years"),
    FeatureSpec("calls", "ambulance calls", "ambulance service", window_days=365),
    FeatureSpec("sex", "sex", "demographics", kind="categorical", categories=("F", "M", "U")),
)


def _population(rng, n, age_mean=78.0):
    return pd.DataFrame(
        {
            "age": rng.normal(age_mean, 7, n),
            "calls": rng.poisson(0.3, n).astype(float),
            "sex": rng.choice([0.0, 1.0], n),
        }
    )


def test_same_population_is_stable_and_shifted_population_warns():
    rng = np.random.default_rng(1)
    train = _population(rng, 20_000)
    reference = build_reference(train, SPECS, rng.beta(1, 20, 20_000))
    same = _population(rng, 5_000)
    table = drift_table(reference, same, probability=rng.beta(1, 20, 5_000))
    assert set(table["variable"]) == {"age", "calls", "sex", "score"}
    assert (table["psi"] < 0.02).all()
    assert drift_warnings(table) == []

    shifted = _population(rng, 5_000, age_mean=86.0)
    table = drift_table(reference, shifted, probability=rng.beta(2, 10, 5_000))
    warned = set(table.loc[table["status"] == "warning", "variable"])
    assert warned == {"age", "score"}
    warnings = drift_warnings(table)
    assert any("1 feature has PSI > 0.2" in w and "age (" in w for w in warnings)
    assert any("the risk score" in w for w in warnings)


def test_a_feature_missing_this_month_is_reported_not_skipped():
    rng = np.random.default_rng(2)
    reference = build_reference(_population(rng, 1_000), SPECS, rng.uniform(size=1_000))
    table = drift_table(reference, _population(rng, 500).drop(columns="calls"))
    assert table.set_index("variable").loc["calls", "status"] == "missing"
    assert any("calls" in w and "could not be computed" in w for w in drift_warnings(table))
