"""A saved Splink model moves between engines with its trained parameters intact: Splink renders
the comparisons for the engine, the saved model supplies m, u and term-frequency settings."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from falls_risk import catalog
from falls_risk.errors import LinkageError
from falls_risk.linkage.engine import settings_for_dialect
from falls_risk.workspace import Workspace


@pytest.fixture(scope="module")
def saved(linked_workspace: Path) -> dict:
    return json.loads(catalog.LINKAGE_MODEL.path(Workspace(linked_workspace)).read_text())


def test_a_duckdb_model_on_spark_keeps_every_trained_parameter_and_round_trips(saved):
    assert saved["sql_dialect"] == "duckdb"
    on_spark = settings_for_dialect(saved, "spark")
    assert on_spark["sql_dialect"] == "spark"
    conditions = [lv["sql_condition"] for c in on_spark["comparisons"] for lv in c["comparison_levels"]]
    assert any("ARRAY_INTERSECT" in c for c in conditions)  # Spark's, not DuckDB's list_intersect
    assert not any("list_intersect" in c.lower() or '"' in c for c in conditions)
    for built, trained in zip(on_spark["comparisons"], saved["comparisons"], strict=True):
        for a, b in zip(built["comparison_levels"], trained["comparison_levels"], strict=True):
            assert {k: v for k, v in a.items() if k != "sql_condition"} == {
                k: v for k, v in b.items() if k != "sql_condition"}
    assert on_spark["probability_two_random_records_match"] == saved["probability_two_random_records_match"]
    assert settings_for_dialect(on_spark, "duckdb")["comparisons"] == saved["comparisons"]
    assert settings_for_dialect(saved, "duckdb") is saved  # already in the engine's dialect


def test_a_model_whose_levels_this_code_does_not_build_is_refused(saved):
    changed = copy.deepcopy(saved)
    changed["comparisons"][0]["comparison_levels"][2]["label_for_charts"] = "Something else"
    with pytest.raises(LinkageError, match="--retrain"):
        settings_for_dialect(changed, "spark")
