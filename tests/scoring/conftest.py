"""Scoring fixtures: a small LightGBM model trained on a synthetic registry-shaped feature table."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def registry_specs():
    from falls_risk.features.registry import FEATURES

    return tuple(FEATURES)


@pytest.fixture(scope="session")
def synthetic_model(registry_specs):
    from tests.scoring.synthetic import train_synthetic_model

    return train_synthetic_model(registry_specs, n=6_000, seed=0, rounds=60)


@pytest.fixture(scope="session")
def month_features(registry_specs):
    from tests.scoring.synthetic import synthetic_features

    frame, _ = synthetic_features(registry_specs, 2_000, seed=11)
    return frame
