"""The notebooks as a data scientist uses them: notebook 3 imports only public names, notebook 2
can compare the runs already tracked without training, and the documented headless command
writes each executed copy under the notebook's own name."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _imports(path: Path) -> list[tuple[str, str]]:
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    source = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
    return [(node.module, alias.name) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
            for alias in node.names if node.module and node.module.startswith("falls_risk")]


def test_the_commissioners_notebook_uses_only_public_names():
    imported = _imports(NOTEBOOKS / "3.0-feature-importance-for-commissioners.ipynb")
    assert imported
    for module, name in imported:
        target = importlib.import_module(module)
        public = getattr(target, "__all__", None)
        submodule = importlib.util.find_spec(f"{module}.{name}") is not None
        assert submodule or (public is not None and name in public), f"{module}.{name} is not public"
        assert not name.startswith("_")
    assert not [m for m, _ in imported if m.startswith("falls_risk.reporting.")]


def test_the_documented_headless_command_keeps_each_notebooks_name():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    output = re.search(r"--output '([^']+)'", readme).group(1)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        # nbclient's rule (nbclient/cli.py): parent of the input / output, suffix set to .ipynb.
        written = path.parent.joinpath(output.format(notebook_name=path.with_suffix("").name)).with_suffix(".ipynb")
        assert written.name == path.name and written.resolve().parent == NOTEBOOKS.parent / "demo" / "notebooks"


def test_the_training_notebook_compares_existing_runs_without_training(trained_model: Any, tmp_path: Path):
    from falls_risk import tracking
    from falls_risk.modelling.train import leaderboard_frame
    from tests.test_notebooks import TRAIN, _check_ran_cleanly, _execute, _text

    tracking.configure(trained_model.tracking_uri)
    before = set(leaderboard_frame()["run_id"])
    env = {"FALLS_RISK_WORKSPACE": str(trained_model.workspace), "MLFLOW_TRACKING_URI": trained_model.tracking_uri,
           "FALLS_RISK_TRAIN": "0", "FALLS_RISK_OPTUNA_STORAGE": str(tmp_path / "unused.db")}
    nb = _execute(NOTEBOOKS / TRAIN, env, tmp_path)
    _check_ran_cleanly(nb)
    assert trained_model.run_id in _text(nb)
    tracking.configure(trained_model.tracking_uri)
    assert set(leaderboard_frame()["run_id"]) == before  # nothing trained
    assert not (tmp_path / "unused.db").exists()
