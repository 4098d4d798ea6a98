"""A synthetic feature table with the registry's columns, for tests and the scoring and SHAP
benchmarks (``bench/`` puts the repository root on ``sys.path`` to import it from here).

Not used by the pipeline: it lets the scoring stage be tested and timed at 700,000 people
without building a world of that size. Values follow each feature's kind (counts, binaries,
categorical codes, ages, days since) and a risk that rises with age and fall history, so a model
trained on it has real structure to explain.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from falls_risk.features.spec import FeatureSpec


def synthetic_features(
    specs: Sequence[FeatureSpec], n: int, *, seed: int = 0, frailty_shift: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` rows: ``person_key`` plus one column per spec; and 12-month fall labels (0/1).

    ``frailty_shift`` moves everyone's latent frailty (to simulate a drifted month).
    """
    rng = np.random.default_rng(seed)
    frailty = rng.gamma(2.0, 0.5, n) + frailty_shift
    age = np.clip(65 + rng.gamma(2.0, 6.0, n) + 3 * frailty, 65, 105).round()
    columns: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.is_categorical:
            k = max(len(spec.categories), 1)
            columns[spec.name] = rng.integers(0, k, n).astype(float)
        elif spec.name.startswith("age"):
            columns[spec.name] = age
        elif spec.kind == "binary":
            columns[spec.name] = (rng.uniform(size=n) < np.clip(0.04 * frailty, 0, 0.9)).astype(float)
        elif spec.aggregation == "days_since":
            has = rng.uniform(size=n) < np.clip(0.2 * frailty, 0, 0.95)
            columns[spec.name] = np.where(has, rng.exponential(400 / (1 + frailty), n).round(), np.nan)
        elif "wimd" in spec.name:
            columns[spec.name] = rng.integers(1, 6, n).astype(float)
        elif spec.aggregation in ("weak_link_share",):
            columns[spec.name] = rng.beta(1, 30, n)
        else:
            window = 4.0 if spec.window_days is None else max(spec.window_days / 365, 0.25)
            columns[spec.name] = rng.poisson(0.15 * frailty * window).astype(float)
    frame = pd.DataFrame(columns)
    frame.insert(0, "person_key", [f"{i:032x}" for i in rng.permutation(n) + 10**9])
    fall_cols = [s.name for s in specs if "fall" in s.name and not s.is_categorical]
    falls = frame[fall_cols].fillna(0).sum(axis=1).to_numpy() if fall_cols else 0.0
    logit = -4.2 + 0.05 * (age - 75) + 0.5 * frailty + 0.25 * np.log1p(falls)
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, labels


def train_synthetic_model(specs: Sequence[FeatureSpec], n: int = 20_000, *, seed: int = 0, rounds: int = 200):
    """A calibrated LightGBM ``FallsRiskModel`` trained on a synthetic sample, with its drift reference."""
    from falls_risk.modelling.model import FallsRiskModel

    X, y = synthetic_features(specs, n, seed=seed)
    cut, cal = int(n * 0.6), int(n * 0.8)
    model = FallsRiskModel(
        kind="lightgbm",
        specs=specs,
        params={"num_boost_round": rounds, "learning_rate": 0.05, "num_leaves": 31, "verbose": -1},
        random_state=seed,
    )
    model.fit(X.iloc[:cut], y[:cut], X_calibration=X.iloc[cut:cal], y_calibration=y[cut:cal])
    model.set_reference(X.iloc[cal:])
    return model
