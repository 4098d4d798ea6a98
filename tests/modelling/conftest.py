"""Fixtures of the modelling tests: a synthetic feature table with true risks, a temp MLflow store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from falls_risk.modelling.data import Split, temporal_split
from tests.modelling.modelling_fixtures import SPECS, make_feature_frame


@pytest.fixture(scope="session")
def synthetic_frame() -> pd.DataFrame:
    """1,500 people at 24 quarterly index dates (2019-2024); labels known throughout."""
    return make_feature_frame(people=1500, seed=3)


@pytest.fixture(scope="session")
def synthetic_split(synthetic_frame: pd.DataFrame) -> Split:
    return temporal_split(synthetic_frame, test_months=12, calibration_fraction=0.2, seed=3)


@pytest.fixture(scope="session")
def specs() -> tuple:
    return SPECS


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite tracking URI in a temporary folder, shared by this folder's tests."""
    root = tmp_path_factory.mktemp("mlflow_store")
    return f"sqlite:///{Path(root) / 'mlflow.db'}"
