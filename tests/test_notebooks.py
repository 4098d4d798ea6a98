"""The data scientists' notebooks (``notebooks/``): committed without outputs, and each one runs
top to bottom on the small synthetic world, showing its figures and tables.

The kernel is the project's own interpreter (``sys.executable``, ipykernel's built-in ``python3``
spec; user-installed kernelspecs are ignored, so a fresh machine needs nothing installed) and
talks to this process over ZMQ's ``ipc`` transport (unix sockets in a temporary folder), so no TCP
port is opened and the suite's ``--disable-socket --allow-unix-socket`` holds.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

from falls_risk.contract import DIRECT_IDENTIFIERS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPLORE = "1.0-explore-linked-data.ipynb"
TRAIN = "2.0-train-and-compare-models.ipynb"
EXPLAIN = "3.0-feature-importance-for-commissioners.ipynb"
CELL_TIMEOUT = 900  # seconds for one cell (notebook 2 trains six models in one cell)


def _notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_three_notebooks_are_committed() -> None:
    assert [p.name for p in _notebook_paths()] == [EXPLORE, TRAIN, EXPLAIN]


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.name)
def test_committed_notebook_is_stripped_and_valid(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [], f"{path.name} cell {cell.id} has outputs: strip them before committing"
        assert cell.execution_count is None, f"{path.name} cell {cell.id} has an execution count"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    # The notebook explains itself: it opens with a title and says where its inputs come from.
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "FALLS_RISK_WORKSPACE" in nb.cells[0].source


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.name)
def test_notebook_never_names_a_direct_identifier(path: Path) -> None:
    """The notebooks read only tables after linkage: no identifier column appears in their code."""
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    named = [c for c in DIRECT_IDENTIFIERS if re.search(rf"\b{re.escape(c)}\b", source)]
    assert named == []


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.name)
def test_notebook_keeps_logic_in_the_library(path: Path) -> None:
    """Code cells are a few library calls and a plot: no function or class is defined in a notebook."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class|async def)\s", cell.source, re.MULTILINE), cell.source
            assert len(cell.source.splitlines()) <= 20, f"cell {cell.id} is long: move its logic to falls_risk"


# --- execution ----------------------------------------------------------------------------------------
def _execute(path: Path, env: dict[str, str], work: Path) -> Any:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    cwd = work / "cwd"
    cwd.mkdir(parents=True)
    # Unix socket paths are limited to ~100 characters: keep them short, in the system temp folder.
    with tempfile.TemporaryDirectory(prefix="frk-") as sockets:
        manager = AsyncKernelManager(
            kernel_name="python3",
            transport="ipc",
            ip=os.path.join(sockets, "kernel"),  # socket files: <ip>-<n>
            # Only ipykernel's built-in spec, i.e. this interpreter: never a python3 spec found elsewhere.
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[]),
        )
        client = NotebookClient(
            nb, km=manager, timeout=CELL_TIMEOUT, startup_timeout=120, resources={"metadata": {"path": str(cwd)}}
        )
        client.execute(env={**os.environ, **env})
        assert manager.kernel_spec.argv[0] == sys.executable
    # Nothing is written to the notebook's working directory: every output has an explicit place.
    assert sorted(p.name for p in cwd.iterdir()) == []
    return nb


def _outputs(nb: Any) -> list[tuple[Any, Any]]:
    return [(cell, out) for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(nb: Any) -> str:
    parts = []
    for _, out in _outputs(nb):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def _check_ran_cleanly(nb: Any) -> None:
    for cell, out in _outputs(nb):
        assert out.output_type != "error", f"cell {cell.id}: {out.get('ename')}: {out.get('evalue')}"
        if out.output_type == "stream" and out.name == "stderr":
            # A warning raised by our own code would print its file path here.
            assert "falls_risk" not in out.text, f"cell {cell.id} warned:\n{out.text}"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        draws = re.search(r"^fig\b|\.plot[.(]|^ax = ", cell.source, re.MULTILINE)
        images = [out for out in cell.outputs if "image/png" in out.get("data", {})]
        if draws:
            assert len(images) == 1, f"cell {cell.id} should show one figure, showed {len(images)}"


def test_explore_notebook_runs(feature_workspace: Path, tmp_path: Path) -> None:
    nb = _execute(NOTEBOOKS / EXPLORE, {"FALLS_RISK_WORKSPACE": str(feature_workspace)}, tmp_path)
    _check_ran_cleanly(nb)
    text = _text(nb)
    # Cohort, event volumes by agency, link rates, label rates by age and sex.
    for expected in ("label_rate", "ambulance service", "probabilistic", "85+", "nonzero_share"):
        assert expected in text


def test_train_notebook_runs(feature_workspace: Path, tmp_path: Path) -> None:
    store = tmp_path / "tracking"
    store.mkdir()
    optuna_db = tmp_path / "studies" / "optuna.db"
    optuna_db.parent.mkdir()
    env = {
        "FALLS_RISK_WORKSPACE": str(feature_workspace),
        "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "FALLS_RISK_EXPERIMENTS": str(NOTEBOOKS.parent / "experiments"),
        "FALLS_RISK_OPTUNA_STORAGE": str(optuna_db),
        "FALLS_RISK_TRIALS": "2",
        "FALLS_RISK_BOOTSTRAP": "20",
    }
    nb = _execute(NOTEBOOKS / TRAIN, env, tmp_path)
    _check_ran_cleanly(nb)
    text = _text(nb)
    for model in ("age_sex_logistic", "previous_fall_rule", "deficit_score", "logistic", "lightgbm_default",
                  "lightgbm_optuna"):
        assert model in text
    # The Optuna study is where the notebook was told to put it, and its two trials finished.
    import optuna

    studies = optuna.get_all_study_summaries(f"sqlite:///{optuna_db}")
    assert [s.study_name.split(".")[0] for s in studies] == ["notebook_lightgbm_optuna"]
    assert studies[0].n_trials >= 2
    # Every model is in the tracking store the notebook was pointed at, with its intervals.
    from falls_risk import tracking
    from falls_risk.modelling.train import leaderboard_frame

    tracking.configure(env["MLFLOW_TRACKING_URI"])
    board = leaderboard_frame()
    assert len(board) == 6
    assert board["test_auroc_ci_low"].notna().all()


def test_explain_notebook_runs(trained_model: Any, tmp_path: Path) -> None:
    env = {
        "FALLS_RISK_WORKSPACE": str(trained_model.workspace),
        "MLFLOW_TRACKING_URI": trained_model.tracking_uri,
        "FALLS_RISK_MODEL_URI": trained_model.model_uri,
        "FALLS_RISK_EXPLAIN_ROWS": "1000",
    }
    nb = _execute(NOTEBOOKS / EXPLAIN, env, tmp_path)
    _check_ran_cleanly(nb)
    text = _text(nb)
    assert f"version {trained_model.version}" in text
    # Global importance, grouped by agency (with the retraining ablation), by age band; subgroups.
    for expected in ("mean_abs_points", "auroc_drop", "85+", "Age band", "people_per_month"):
        assert expected in text


# --- the library views the notebooks call (falls_risk.exploration) -------------------------------------
def test_event_volumes_by_source_add_up_to_agencies(feature_workspace: Path) -> None:
    from falls_risk import exploration
    from falls_risk.contract import SOURCES
    from falls_risk.errors import FallsRiskError

    by_agency = exploration.event_volumes(feature_workspace)
    by_source = exploration.event_volumes(feature_workspace, by="source")
    assert by_agency.to_numpy().sum() == by_source.to_numpy().sum() > 0
    health = [s for s in by_source.columns if SOURCES[s].agency == "health board"]
    assert (by_source[health].sum(axis=1) == by_agency["health board"]).all()
    # Months run without gaps, so a month with no events shows as 0 rather than disappearing.
    assert (by_agency.index.to_series().diff().dropna().dt.days <= 31).all()
    with pytest.raises(FallsRiskError, match="'by'"):
        exploration.event_volumes(feature_workspace, by="agencies")


def test_unlinked_reasons_account_for_every_unlinked_record(feature_workspace: Path) -> None:
    from falls_risk import exploration

    rates = exploration.link_rates(feature_workspace)
    reasons = exploration.unlinked_reasons(feature_workspace)
    unlinked = rates[rates["link_method"] == "unlinked"].set_index("source")["records"]
    assert reasons.groupby("source")["records"].sum().sort_index().equals(unlinked.sort_index())
    assert rates.groupby("source")["share"].sum().round(9).eq(1).all()


def test_cohort_profile_counts_everyone(feature_workspace: Path) -> None:
    from falls_risk import exploration
    from falls_risk.features import load_feature_table

    features = load_feature_table(feature_workspace)
    profile = exploration.cohort_profile(features)
    summary = exploration.cohort_summary(features)
    assert (profile.sum(axis=1).to_numpy() == summary["people"].to_numpy()).all()
    assert list(profile.index) == list(summary.index)
    assert isinstance(summary.index, pd.DatetimeIndex)


def test_feature_coverage_compares_admitted_and_not() -> None:
    from falls_risk import exploration
    from falls_risk.features.spec import FeatureSpec

    specs = [
        FeatureSpec("falls_365d", "falls", "ambulance service"),
        FeatureSpec("area", "area", "demographics", kind="categorical", categories=("a", "b")),
    ]
    frame = pd.DataFrame({
        "falls_365d": [0, 2, 4, None],
        "area": [0, 1, 1, 0],
        "label": [0, 1, 1, None],
    })
    table = exploration.feature_coverage(frame, specs).set_index("feature")
    assert table.loc["falls_365d", "missing_share"] == 0.25
    assert table.loc["falls_365d", "nonzero_share"] == 0.5
    assert table.loc["falls_365d", "mean_admitted"] == 3.0
    assert table.loc["falls_365d", "mean_not_admitted"] == 0.0
    assert np.isnan(table.loc["area", "mean_admitted"])  # a category code has no meaningful mean


def _board() -> pd.DataFrame:
    return pd.DataFrame({
        "run_name": ["lightgbm", "lightgbm", "age_sex_logistic"],
        "version": ["3", None, "1"],
        "run_id": ["a" * 32, "b" * 32, "c" * 32],
        "test_auroc": [0.72, 0.70, 0.65],
        "test_auroc_ci_low": [0.66, 0.64, 0.59],
        "test_auroc_ci_high": [0.78, 0.76, 0.71],
    })


def test_metric_intervals_give_each_run_a_unique_label() -> None:
    from falls_risk import exploration
    from falls_risk.errors import FallsRiskError

    intervals = exploration.metric_intervals(_board(), metrics=["test_auroc"])
    assert list(intervals["run"]) == ["lightgbm v3", "lightgbm (bbbbbbbb)", "age_sex_logistic v1"]
    assert list(intervals["ci_low"]) == [0.66, 0.64, 0.59]
    assert (intervals["ci_low"] <= intervals["value"]).all() and (intervals["value"] <= intervals["ci_high"]).all()
    with pytest.raises(FallsRiskError, match="test_auprc"):
        exploration.metric_intervals(_board(), metrics=["test_auroc", "test_auprc"])


def test_calibration_curves_follow_the_diagonal_for_calibrated_risks() -> None:
    from falls_risk import exploration

    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.3, 40_000)
    predictions = pd.DataFrame({"run": "calibrated", "label": rng.random(p.size) < p, "prob": p})
    shifted = predictions.assign(run="too high", prob=np.minimum(predictions["prob"] * 2, 1.0))
    curves = exploration.calibration_curves(pd.concat([predictions, shifted]))
    calibrated = curves[curves["run"] == "calibrated"]
    assert len(calibrated) == 10
    assert np.abs(calibrated["observed"] - calibrated["mean_predicted"]).max() < 0.02
    too_high = curves[curves["run"] == "too high"]
    assert (too_high["observed"] < too_high["mean_predicted"]).all()


def test_experiment_config_applies_the_notebook_overrides(tmp_path: Path) -> None:
    from falls_risk import exploration
    from falls_risk.errors import ConfigError

    path = NOTEBOOKS.parent / "experiments" / "lightgbm_optuna.yaml"
    config = exploration.experiment_config(
        path, workspace=tmp_path, name="notebook_x", n_trials=3, storage=tmp_path / "o.db", bootstrap=10)
    assert (config.name, config.tuning.n_trials, config.evaluation.bootstrap) == ("notebook_x", 3, 10)
    assert config.data.workspace == tmp_path and config.tuning.storage == tmp_path / "o.db"
    with pytest.raises(ConfigError, match=r"lightgbm_optuna\.yaml.*n_trials"):
        exploration.experiment_config(path, workspace=tmp_path, n_trials=0)


def test_grouped_importance_adds_up_and_hides_small_groups(trained_model: Any) -> None:
    from falls_risk import exploration
    from falls_risk.explain import explain
    from falls_risk.features import load_feature_table
    from falls_risk.modelling.data import labelled
    from falls_risk.modelling.fairness import subgroup_columns

    frame = labelled(load_feature_table(trained_model.workspace)).sample(n=400, random_state=0)
    explanation = explain(trained_model.model, frame)
    agencies = exploration.agency_importance(explanation, (0.70, {"police": 0.69}))
    assert agencies["share"].sum() == pytest.approx(1.0)
    assert agencies["features"].sum() == len(trained_model.model.feature_names_)
    assert agencies.set_index("agency").loc["police", "auroc_drop"] == pytest.approx(0.01)
    members = exploration.agency_members(explanation)
    assert sorted(f for names in members.values() for f in names) == sorted(explanation.feature_names)

    importance = exploration.labelled_importance(explanation)
    assert importance["label"].str.len().gt(0).all()
    groups = subgroup_columns(frame, trained_model.model.specs_, trained_model.model.roles_)["age_band"]
    sizes = groups.value_counts()
    by_age = exploration.importance_by_group(explanation, groups, top=5, min_rows=int(sizes.min()) + 1)
    assert sizes.idxmin() not in by_age.columns and len(by_age) == 5
    biggest = sizes.idxmax()
    expected = explanation.contributions.abs()[groups == biggest][by_age.index].mean()
    assert np.allclose(by_age[biggest].to_numpy(), expected.to_numpy())
