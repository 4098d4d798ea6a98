"""The Splink settings as data: portable SQL, floors on m, saved models checked before reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot

from falls_risk.errors import LinkageError
from falls_risk.linkage import model
from falls_risk.linkage.engine import load_saved_settings

DUCKDB_ONLY = ("jaro_winkler_similarity", "list_", "regexp_extract", "strftime", "try_strptime", "::")


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_settings_render_for_duckdb_and_spark(dialect: str) -> None:
    settings = model.build_settings(1e-4).create_settings_dict(dialect)
    names = [c["output_column_name"] for c in settings["comparisons"]]
    assert tuple(names) == model.COMPARISON_NAMES
    conditions = [lvl["sql_condition"] for c in settings["comparisons"] for lvl in c["comparison_levels"]]
    rules = [r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]]
    for sql in conditions + rules:
        if sql != "ELSE":
            sqlglot.parse_one(sql.replace("l.", "l_.").replace("r.", "r_."), read=dialect)
    if dialect == "spark":
        assert not [s for s in conditions + rules if any(token in s for token in DUCKDB_ONLY)]


def test_every_comparison_column_is_in_the_prepared_frames() -> None:
    settings = model.build_settings(1e-4).create_settings_dict("duckdb")
    text = json.dumps(settings)
    used = {c for c in model.COMPARISON_COLUMNS if c in text}
    assert used == set(model.COMPARISON_COLUMNS)


def test_floor_keeps_a_single_disagreement_from_being_a_veto() -> None:
    trained = {
        "comparisons": [
            {
                "comparison_levels": [
                    {"is_null_level": True},
                    {"m_probability": 0.999999, "u_probability": 0.5},
                    {"m_probability": 1e-10, "u_probability": 0.5},
                ]
            }
        ]
    }
    floored = model.floor_m_probabilities(trained)
    assert floored["comparisons"][0]["comparison_levels"][2]["m_probability"] == model.MIN_M_PROBABILITY
    assert trained["comparisons"][0]["comparison_levels"][2]["m_probability"] == 1e-10  # a copy


def test_a_saved_model_that_does_not_fit_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(
        json.dumps({"link_type": "link_only", "comparisons": [{"output_column_name": "first_name"}]})
    )
    with pytest.raises(LinkageError, match="--retrain"):
        load_saved_settings(path)
    path.write_text("{not json")
    with pytest.raises(LinkageError, match="not valid JSON"):
        load_saved_settings(path)


def _level(settings: dict, comparison: str, label_start: str) -> dict:
    [found] = [
        lvl
        for c in settings["comparisons"]
        if c["output_column_name"] == comparison
        for lvl in c["comparison_levels"]
        if lvl.get("label_for_charts", "").startswith(label_start)
    ]
    return found


def test_a_birth_date_decades_apart_is_checked_before_partial_agreement_and_never_cheap() -> None:
    # "John Jones" born 1984-02-04 against his father born 1957-02-04: day and month agree, but
    # the 20-years level comes first, so the partial-agreement level cannot rescue the pair.
    settings = model.build_settings(1e-4).create_settings_dict("duckdb")
    labels = [
        lvl.get("label_for_charts", "")
        for c in settings["comparisons"]
        if c["output_column_name"] == "date_of_birth"
        for lvl in c["comparison_levels"]
    ]
    impossible = next(i for i, label in enumerate(labels) if label.startswith("20 or more years"))
    partial = labels.index("Two of day, month, year agree")
    assert impossible < partial
    # EM finds no such matches (m ~ 0): the floors grade how much a disagreement may cost.
    trained = json.loads(json.dumps(settings))
    for c in trained["comparisons"]:
        for lvl in c["comparison_levels"]:
            if not lvl.get("is_null_level") and not lvl.get("fix_m_probability"):
                lvl["m_probability"] = 1e-12
    floored = model.floor_m_probabilities(trained)
    assert _level(floored, "date_of_birth", "20 or more years")["m_probability"] == model.IMPOSSIBLE_M
    assert _level(floored, "date_of_birth", "6 to 19 years")["m_probability"] <= 1e-8
    assert _level(floored, "date_of_birth", "Within 5 years")["m_probability"] <= 1e-4
    assert _level(floored, "nhs_number", "Valid NHS number of someone")["m_probability"] == model.NHS_ELSEWHERE_M
