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
from pathlib import Path
from typing import Any

import nbformat
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
    manager = AsyncKernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=str(work / "kernel"),  # ipc socket files: <ip>-<n>
        # Only ipykernel's built-in spec, i.e. this interpreter: never a python3 spec found elsewhere.
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[]),
    )
    client = NotebookClient(
        nb, km=manager, timeout=CELL_TIMEOUT, startup_timeout=120, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env={**os.environ, **env})
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
