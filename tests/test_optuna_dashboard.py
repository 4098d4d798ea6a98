"""optuna-dashboard (a dev dependency) reads the tuning study's own storage: the command the docs
give, `optuna-dashboard sqlite:///<tuning.storage>`, shows the study and its trials. Checked
in-process through the dashboard's WSGI app (no socket)."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import optuna
import pytest

from falls_risk.config import TuningConfig
from falls_risk.modelling.tuning import open_storage


def _get(app, path: str) -> dict:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update({"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()})
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), status
    return json.loads(body)


def test_the_dashboard_lists_the_tuning_study_and_its_trials(tmp_path):
    dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is a dev dependency")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(tmp_path / "optuna.db", TuningConfig())
    study = optuna.create_study(study_name="falls-risk-lightgbm", storage=storage, direction="minimize")
    study.optimize(lambda t: (t.suggest_float("learning_rate", 0.01, 0.3) - 0.1) ** 2, n_trials=3)
    app = dashboard.wsgi(storage)
    studies = _get(app, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["falls-risk-lightgbm"]
    detail = _get(app, f"/api/studies/{studies[0]['study_id']}")
    assert len(detail["trials"]) == 3
