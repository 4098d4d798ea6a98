"""Fixtures of the explain tests: 1,500 people, a LightGBM model on them, and 300 explained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from falls_risk.explain import explain
from tests.explain.explain_fixtures import SPECS, TreeModel, make_frame, train_tree_model


@pytest.fixture(scope="session")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return make_frame(1500, seed=3)


@pytest.fixture(scope="session")
def model(data) -> TreeModel:
    return train_tree_model(*data)


@pytest.fixture(scope="session")
def explanation(model, data):
    X, _ = data
    return explain(model, X.iloc[:300], specs=SPECS)
