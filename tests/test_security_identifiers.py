"""No direct identifier outside the identifiable outputs (issue 19.11): an identifier scan of
everything a full run writes (workspace, MLflow store with its artifacts, Optuna storage, the
month's run folder, the ledger, the logs), for the names, NHS numbers, dates of birth, postcodes
and addresses of the synthetic world's true people (full names in text; any name as a table cell)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from falls_risk.catalog import INGESTED, RISK_LIST
from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
from tests.identifiers import Identifiers, files_to_scan, scan


@pytest.fixture(scope="module")
def full_run(world_dir, trained_model, tmp_path_factory):
    """The champion trained on the shared world scores December, logs captured."""
    runs = tmp_path_factory.mktemp("identifier_scan") / "runs"
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger().addHandler(handler)
    try:
        result = run_scoring(ScoringRequest(world_dir / "extract", date(2025, 12, 1), runs / "2025-12",
                                            TierPolicy(capacity=50), model_uri=trained_model.model_uri,
                                            tracking_uri=trained_model.tracking_uri), progress=False)
    finally:
        logging.getLogger().removeHandler(handler)
    store = Path(trained_model.tracking_uri.removeprefix("sqlite:///")).parent
    logs = "\n".join(r.getMessage() for r in records) + "\n" + "\n".join(result.lines() + result.warnings)
    return {"runs": runs, "store": store, "workspace": Path(trained_model.workspace), "logs": logs}


def test_the_scan_finds_identifiers_where_they_are_allowed(full_run, world_dir):
    """The scanner itself: the identifiable outputs it leaves out do hold the true identifiers."""
    ids = Identifiers.of_world(world_dir / "truth")
    ids.check_file(INGESTED.path(full_run["workspace"], source="population"), "ingested population")
    ids.check_file(RISK_LIST.path(full_run["runs"] / "2025-12"), "risk list")
    found = " ".join(ids.found)
    for kind in ("NHS number", "name", "date of birth", "postcode", "address"):
        assert kind in found, kind


def test_nothing_a_full_run_writes_outside_the_identifiable_outputs_names_anyone(full_run, world_dir):
    roots = [full_run["workspace"], full_run["store"], full_run["runs"]]
    scanned = [where for _, where in files_to_scan(roots)]
    # The places that matter were scanned: pseudonymised tables, MLflow's database and artifacts,
    # the run folder's every output but the risk list, and the ledger.
    expected = ["linked/population.parquet", "features/manifest.json", "mlflow.db", "optuna.db",
                "2025-12/scores.parquet", "2025-12/summary.html", "2025-12/explanations.parquet", "ledger.jsonl",
                "reports/linkage.html"]
    for name in expected:
        assert any(w.endswith(name) for w in scanned), name
    assert any("artifacts" in w or "mlartifacts" in w for w in scanned), "no MLflow artifact scanned"
    assert not any(w.endswith(("risk_list.csv", "clerical_review.csv")) or "/ingested/" in w for w in scanned)

    found, count = scan(roots, world_dir / "truth", extra_text={"logs": full_run["logs"]})
    assert count > 30
    assert not found, "\n".join(found[:20])


def test_the_features_score_builds_equal_compute_features_with_the_models_recorded_config(full_run, trained_model):
    """Training/scoring parity: the monthly run (its own ingest and linkage of the extract, in its
    work folder) scores exactly the features `compute_features` gives on the training workspace
    for that date, with the feature config recorded in the model."""
    import pandas as pd

    from falls_risk.catalog import RUN_FEATURES
    from falls_risk.features.compute import compute_features

    config = trained_model.model.training_record_.data.feature_config
    assert config is not None
    scored = RUN_FEATURES.load(full_run["runs"] / "2025-12")
    expected = compute_features(trained_model.workspace, [date(2025, 12, 1)], config=config)
    expected = expected[scored.columns]
    assert len(scored) > 1000 and set(trained_model.model.feature_names_) <= set(scored.columns)
    pd.testing.assert_frame_equal(
        scored.sort_values("person_key").reset_index(drop=True),
        expected.sort_values("person_key").reset_index(drop=True),
        check_dtype=False, check_categorical=False,
    )
