"""Shared fixtures: one small synthetic world, carried through the pipeline stage by stage.

Each fixture is session-scoped and builds on the one before it. Tests must not modify these
workspaces; copy them (``copy_workspace``) before running a stage that writes.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

# Before anything imports falls_risk (and so lightgbm or mlflow).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ["FALLS_RISK_SECRET"] = "test-secret-not-for-real-use"

WORLD_PEOPLE = 3000
WORLD_SEED = 7
WORLD_START = date(2019, 1, 1)
WORLD_END = date(2025, 12, 31)


def copy_workspace(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic world: DIR/extract and DIR/truth."""
    from falls_risk.synth import generate_world

    out = tmp_path_factory.mktemp("world")
    generate_world(out, people=WORLD_PEOPLE, seed=WORLD_SEED, start=WORLD_START, end=WORLD_END, progress=False)
    return out


@pytest.fixture(scope="session")
def ingested_workspace(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from falls_risk.ingest import run_ingest

    ws = tmp_path_factory.mktemp("ws_ingested")
    run_ingest(world_dir / "extract", ws, progress=False)
    return ws


# --- features (events, point-in-time features and labels) ---------------------------------------
FEATURE_INDEX_DATES = "2021-01-01:2024-10-01:quarterly"


@pytest.fixture(scope="session")
def feature_workspace(linked_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``linked_workspace`` with WS/events and WS/features at quarterly index dates."""
    from falls_risk.features import build_features, parse_index_dates

    ws = copy_workspace(linked_workspace, tmp_path_factory.mktemp("ws_features") / "ws")
    build_features(ws, parse_index_dates(FEATURE_INDEX_DATES), progress=False)
    return ws


# --- linkage ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def linked_workspace(ingested_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``ingested_workspace`` after ``run_linkage``: WS/linked, WS/linkage, WS/reports."""
    from falls_risk.linkage import run_linkage

    ws = copy_workspace(ingested_workspace, tmp_path_factory.mktemp("ws_linked") / "ws")
    run_linkage(ws, progress=False)
    return ws


# --- modelling (a quick tuned LightGBM, tracked and registered as champion) -----------------------
@pytest.fixture(scope="session")
def trained_model(feature_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """A quick LightGBM (Optuna, 2 trials) trained on ``feature_workspace``, tracked in a temporary
    SQLite MLflow store, registered as ``falls-risk`` and aliased ``champion``.

    Returns a namespace: ``tracking_uri``, ``model_uri`` (``models:/falls-risk@champion``),
    ``version``, ``run_id``, ``workspace``, ``model`` (the FallsRiskModel), ``metrics``.
    Call ``falls_risk.tracking.configure(trained_model.tracking_uri)`` before loading.
    """
    from types import SimpleNamespace

    from falls_risk import tracking
    from falls_risk.config import ExperimentConfig
    from falls_risk.modelling import run_experiment

    root = tmp_path_factory.mktemp("trained_model")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    config = ExperimentConfig.model_validate({
        "name": "fixture",
        "seed": 1,
        "models": [{"kind": "lightgbm_tuned", "name": "lightgbm_optuna"}],
        "tuning": {"n_trials": 2, "storage": str(root / "optuna.db"), "max_boost_rounds": 200},
        "evaluation": {"bootstrap": 20},
        "tracking": {"experiment": "falls-risk"},
    })
    [result] = run_experiment(config, workspace=feature_workspace, tracking_uri=uri, progress=False)
    tracking.set_alias(result.version, "champion", "test fixture", user="pytest")
    return SimpleNamespace(
        tracking_uri=uri, model_uri=tracking.CHAMPION_URI, version=result.version, run_id=result.run_id,
        workspace=feature_workspace, model=result.model, metrics=result.metrics,
    )
