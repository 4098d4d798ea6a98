"""The registry, the generated SQL, index-date parsing, the data dictionary and the CLI."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st

from falls_risk import codelists
from falls_risk.cli import main
from falls_risk.config import FeatureConfig, PipelineConfig
from falls_risk.contract import SOURCES
from falls_risk.errors import FallsRiskError
from falls_risk.features import (
    FEATURES,
    REGISTRY_VERSION,
    feature_names,
    get_feature,
    parse_index_dates,
    wording,
)
from falls_risk.features.compute import compute_features
from falls_risk.features.dictionary import render
from falls_risk.features.registry import AGENCIES, _registry_hash, validate_specs
from falls_risk.features.spec import FeatureSpec
from falls_risk.features.sql import code_map_sql, feature_sql
from falls_risk.workspace import Workspace
from tests.features.features_fixtures import D
from tests.features.reference import reference_features
from tests.features.test_point_in_time import compare_with_reference

ROOT = Path(__file__).resolve().parents[2]


# --- registry ------------------------------------------------------------------------------------


def test_registry_covers_the_issue() -> None:
    names = set(feature_names())
    required = {
        "age",
        "sex",
        "wimd_quintile",
        "local_authority",
        "lives_alone",
        "ed_attendances_90d",
        "ed_attendances_365d",
        "ed_attendances_730d",
        "ed_attendances_ever",
        "ed_fall_attendances_365d",
        "emergency_admissions_365d",
        "fall_admissions_ever",
        "hip_fracture_admissions_730d",
        "bed_days_365d",
        "ambulance_fall_calls_365d",
        "ambulance_fall_not_conveyed_90d",
        "gp_recorded_falls_365d",
        "efi_deficits",
        "polypharmacy_90d",
        "frid_classes_90d",
        "home_care_active",
        "home_care_hours_per_week",
        "telecare_active",
        "reablement_365d",
        "social_care_assessments_365d",
        "police_victim_365d",
        "police_concern_for_welfare_365d",
        "police_fraud_scam_365d",
        "adaptations_completed_ever",
        "adaptation_pending",
        "days_since_fall",
        "days_since_ed_attendance",
        "days_since_emergency_admission",
        "contacts_trend",
        "weak_link_share",
        "excluded_weak_links",
    }
    assert required <= names
    assert {f"ever_{c.name}" for c in codelists.conditions()} <= names
    assert {f"frid_{d.name}_90d" for d in codelists.drug_classes()} <= names


def test_every_spec_reads_as_a_reason() -> None:
    for spec in FEATURES:
        assert spec.agency in AGENCIES
        # Read mid-sentence after a number: lower case unless a proper name.
        assert spec.description[0].islower() or spec.description.startswith("Parkinson"), spec.name
        assert spec.missing_means
        if spec.kind == "categorical":
            assert spec.categories
    assert wording.window_text(get_feature("ambulance_fall_not_conveyed_365d")) == "in the last 12 months"
    assert wording.window_text(get_feature("ed_attendances_730d")) == "in the last 2 years"
    assert wording.window_text(get_feature("home_care_active")) == "on the index date"
    assert (
        "never" in get_feature("days_since_fall").missing_means
        or "no fall" in get_feature("days_since_fall").missing_means
    )


def test_registry_version_tracks_the_specs() -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", REGISTRY_VERSION)
    assert _registry_hash(FEATURES) == REGISTRY_VERSION
    changed = (*FEATURES[:-1], FeatureSpec(**{**FEATURES[-1].__dict__, "window_days": 30}))
    assert _registry_hash(changed) != REGISTRY_VERSION


def test_registry_mistakes_are_reported_together() -> None:
    bad = [
        FeatureSpec("x", "thing", "nowhere"),
        FeatureSpec("x", "thing", "police", aggregation="median"),
        FeatureSpec("y", "thing", "police", aggregation="sum_of", inputs=("nope",)),
    ]
    with pytest.raises(FallsRiskError) as err:
        validate_specs(bad)
    text = str(err.value)
    assert "duplicate" in text and "nowhere" in text and "median" in text and "nope" in text


def test_unknown_feature_names_the_registry() -> None:
    with pytest.raises(FallsRiskError, match="Unknown feature 'nope'"):
        get_feature("nope")


def test_code_lists_include_the_contract_reference_codes() -> None:
    reference = {
        "dementia": ["gp/52448006", "gp/26929004", "icd10/F00*", "icd10/F03*", "icd10/G30*"],
        "parkinsons": ["gp/49049000", "icd10/G20*"],
        "orthostatic_hypotension": ["gp/28651003", "icd10/I951*"],
        "hip_fracture": ["gp/5913000", "icd10/S720*", "icd10/S722*"],
        "fall": ["gp/1912002"],
        "frailty": ["gp/248279007", "icd10/R54*"],
    }
    for name, codes in reference.items():
        assert set(codes) <= set(codelists.condition(name).event_codes)
    prefixes = {d.bnf_prefix for d in codelists.drug_classes()}
    assert prefixes == {"0401", "0402", "0403", "0408", "040702", "0205", "0202", "0601"}


# --- SQL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lags", [{}, {"police_incidents": 61, "social_care": 30}])
def test_sql_transpiles_to_spark(lags: dict[str, int]) -> None:
    sql = feature_sql(FeatureConfig(arrival_lag_days=lags), label_known_until=date(2025, 1, 31))
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert "FILTER" in spark.upper() or "CASE" in spark.upper()
    for name in feature_names():
        assert name in spark
    # And it parses back as Spark SQL; so does the code-map statement run before it.
    sqlglot.parse_one(spark, read="spark")
    code_map = sqlglot.transpile(code_map_sql(), read="duckdb", write="spark")[0]
    assert "LIKE 'rx/0401%'" in code_map
    sqlglot.parse_one(code_map, read="spark")


def test_sql_equals_reference_on_the_tiny_world(tiny_copy: Path) -> None:
    from falls_risk.events import build_events
    from falls_risk.features.compute import label_known_until

    config = FeatureConfig(arrival_lag_days={"police_incidents": 61})
    events = pd.read_parquet(build_events(tiny_copy, config)).astype(object)
    events = events.where(events.notna(), None).to_dict("records")
    population = pd.read_parquet(tiny_copy / "linked" / "population.parquet").astype(object)
    population = population.where(population.notna(), None).to_dict("records")
    dates = [D, date(2023, 4, 1), date(2023, 6, 1)]
    sql = compute_features(tiny_copy, dates, config=config)
    until = label_known_until(Workspace(tiny_copy), config)
    ref = reference_features(events, population, dates, config, label_known_until=until)
    compare_with_reference(sql, ref)


# --- index dates ---------------------------------------------------------------------------------


def test_parse_index_dates_forms() -> None:
    monthly = parse_index_dates("2021-01-01:2024-12-01:monthly")
    assert len(monthly) == 48 and monthly[0] == date(2021, 1, 1) and monthly[-1] == date(2024, 12, 1)
    assert parse_index_dates("2023-01-01:2023-12-31:quarterly") == [
        date(2023, 1, 1),
        date(2023, 4, 1),
        date(2023, 7, 1),
        date(2023, 10, 1),
    ]
    assert parse_index_dates("2023-06-01, 2023-01-01,2023-06-01") == [date(2023, 1, 1), date(2023, 6, 1)]


@pytest.mark.parametrize(
    "text, why",
    [
        ("2023-01-01:2022-01-01:monthly", "before the start"),
        ("2023-01-01:2024-01-01:weekly", "monthly or quarterly"),
        ("2023-01-31:2024-01-01:monthly", "day 1-28"),
        ("2023-13-01", "not a date"),
        ("", "empty"),
        ("2023-01-01:2024-01-01", "three parts"),
    ],
)
def test_parse_index_dates_errors_say_what_to_do(text: str, why: str) -> None:
    with pytest.raises(FallsRiskError, match=why) as err:
        parse_index_dates(text)
    assert "--index-dates" in str(err.value) and "START:END:monthly" in str(err.value)


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)).filter(lambda d: d.day <= 28),
    months=st.integers(0, 60),
    step=st.sampled_from(["monthly", "quarterly"]),
)
def test_ranges_step_by_whole_months(start: date, months: int, step: str) -> None:
    from falls_risk.features.index_dates import add_months

    end = add_months(start, months)
    dates = parse_index_dates(f"{start}:{end}:{step}")
    n = 1 if step == "monthly" else 3
    assert dates[0] == start and dates[-1] <= end and len(dates) == months // n + 1
    assert all(d.day == start.day for d in dates)
    assert all(add_months(a, n) == b for a, b in itertools.pairwise(dates))


# --- config ----------------------------------------------------------------------------------------


def test_arrival_lags_must_name_contract_sources() -> None:
    with pytest.raises(ValueError, match="polise"):
        FeatureConfig(arrival_lag_days={"polise_incidents": 61})
    assert PipelineConfig.model_validate({"features": {"arrival_lag_days": {"police_incidents": 61}}})


# --- data dictionary -------------------------------------------------------------------------------


def test_committed_data_dictionary_is_fresh() -> None:
    committed = (ROOT / "data_dictionary.md").read_text(encoding="utf-8")
    assert committed == render(), "data_dictionary.md is stale: run `falls-risk data-dictionary`"


def test_data_dictionary_lists_every_source_and_feature() -> None:
    text = render()
    for source in SOURCES:
        assert f"| {source} |" in text
    for spec in FEATURES:
        assert f"`{spec.name}`" in text


# --- CLI -------------------------------------------------------------------------------------------


def test_cli_features_writes_partitions(tiny_copy: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("features:\n  arrival_lag_days:\n    police_incidents: 61\n", encoding="utf-8")
    code = main(
        [
            "features",
            "--workspace",
            str(tiny_copy),
            "--index-dates",
            "2023-01-01:2023-04-01:quarterly",
            "--config",
            str(cfg),
        ]
    )
    assert code == 0
    assert (tiny_copy / "features" / "index_date=2023-04-01" / "part-0.parquet").exists()
    table = pd.read_parquet(tiny_copy / "features" / "index_date=2023-01-01" / "part-0.parquet")
    assert table.loc[table["person_key"] == "p1", "police_fraud_scam_365d"].item() == 0  # lag applied


def test_cli_bad_index_dates_exit_1(tiny_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--workspace", str(tiny_copy), "--index-dates", "2023-01-01:x:monthly"]) == 1
    assert not (tiny_copy / "features").exists()


def test_cli_data_dictionary(tmp_path: Path) -> None:
    out = tmp_path / "dd.md"
    assert main(["data-dictionary", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
