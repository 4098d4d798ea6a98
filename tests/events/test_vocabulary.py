"""The event-code vocabulary: one wildcard rule in Python and SQL, codes derived from the contract."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from hypothesis import example, given
from hypothesis import strategies as st

from falls_risk import codelists, contract
from falls_risk.errors import FallsRiskError
from falls_risk.events import vocabulary as v

# Characters that mean something to LIKE, to SQL strings or to the rule itself, plus anything else.
_TRICKY = st.sampled_from(["_", "%", "\\", "'", "*", "/", "a", "b", "A", " ", "é"])
# Lone surrogates are not text any agency can send (DuckDB refuses them as invalid UTF-8).
_TEXT = st.text(st.one_of(_TRICKY, st.characters(exclude_categories=("Cs",))), max_size=8)
_PATTERN = st.one_of(_TEXT, _TEXT.map(lambda t: t + "*"))


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        yield connection


@given(code=_TEXT, patterns=st.lists(_PATTERN, max_size=4))
@example(code="socialXcare/home_care", patterns=["social_care/*"])  # '_' is literal, not LIKE's any-char
@example(code="ab", patterns=["a%*"])
@example(code="a\\_b", patterns=["a\\_*"])
@example(code="o'brien", patterns=["o'*"])
@example(code="a*b", patterns=["a*b"])  # a '*' that does not end a pattern is itself
@example(code="", patterns=["*"])
@example(code="x", patterns=[])
def test_python_matcher_and_sql_renderer_agree(con, code: str, patterns: list[str]) -> None:
    sql = f"SELECT {v.sql_match(patterns, 'code')} FROM (SELECT $code AS code)"
    (in_sql,) = con.execute(sql, {"code": code}).fetchone()
    assert in_sql == v.matches_any(code, patterns)


def test_the_rule() -> None:
    assert v.matches("rx/0401010X0", "rx/0401*") and v.matches("rx/", "rx/*")
    assert not v.matches("rx/0402", "rx/0401*")
    assert v.matches("ed/fall", "ed/fall") and not v.matches("ed/falls", "ed/fall")
    assert v.sql_match(()) == "FALSE"


def test_sql_with_escapes_transpiles_to_spark() -> None:
    sql = f"SELECT code FROM events WHERE {v.sql_match(('ed/fall', 'social_care/*', 'rx/0401*'))}"
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert "LIKE 'rx/0401%'" in spark and "ESCAPE" in spark
    sqlglot.parse_one(spark, read="spark")


def test_closed_codes_come_from_the_contract() -> None:
    assert v.ED_ATTENDANCE.codes == tuple(f"ed/{c}" for c in contract.PRESENTING_COMPLAINTS)
    assert v.SOCIAL_CARE.codes == tuple(f"social_care/{s}" for s in contract.SERVICE_TYPES)
    assert v.POLICE_INCIDENT.codes == tuple(f"police/{t}" for t in contract.INCIDENT_TYPES)
    assert v.HOUSING_APPLICATION.codes == tuple(f"housing/application/{t}" for t in contract.ADAPTATION_TYPES)
    assert v.AMBULANCE_NOT_CONVEYED.code("fall") == "ambulance/fall_not_conveyed"
    assert v.ADMISSION.codes == ("inpatient/emergency", "inpatient/elective", "inpatient/other")
    assert v.GP_RECORD.codes == () and v.GP_RECORD.emits("gp/1912002") and not v.GP_RECORD.emits("gp/")
    # Every person source of the contract has its kinds, and each kind its source's column.
    assert {k.source for k in v.KINDS} == set(contract.PERSON_SOURCES)


def test_a_value_outside_the_contract_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(FallsRiskError, match="fall/injury/breathing"):
        v.ED_ATTENDANCE.code("falls")
    with pytest.raises(FallsRiskError, match="fixed code"):
        v.POLICE_VICTIM.code("victim")


def test_each_code_has_one_kind_and_source() -> None:
    assert v.kind_of("inpatient/fall_emergency") is v.FALL_ADMISSION
    assert v.kind_of("inpatient/emergency") is v.ADMISSION
    assert v.kind_of("police/victim").source == "police_incidents"
    assert v.kind_of("icd10/W010").source == "inpatient_spells"
    with pytest.raises(FallsRiskError, match="not a code the events table emits"):
        v.kind_of("ambulance/fall")


def test_families() -> None:
    assert v.family("emergency department") == ("ed/*",)
    assert v.family("ambulance") == ("ambulance/*",)
    assert v.family("admission") == ("inpatient/*",)
    assert v.patterns_of(v.ADMISSION) == v.ADMISSION.codes  # inpatient/* would take the fall flag too
    assert v.patterns_of(v.HOUSING_COMPLETED) == ("housing/completed/*",)
    falls = v.family(v.FALL)
    assert {"ed/fall", "ambulance/fall_conveyed", "ambulance/fall_not_conveyed", "inpatient/fall_emergency"} <= set(
        falls
    )
    assert set(codelists.condition("fall").event_codes) <= set(falls)
    assert v.in_family("icd10/W010", v.FALL) and v.in_family("icd10/W01*", v.FALL)
    assert not v.in_family("ed/*", v.FALL) and not v.in_family("inpatient/hip_fracture", v.FALL)
    assert v.families_of("ed/fall") == ("fall", "emergency department")
    with pytest.raises(FallsRiskError, match="Unknown event-code family 'falls'"):
        v.family("falls")


def test_alert_wording() -> None:
    assert v.alert_wording("housing/application/ramp") == "application for a housing adaptation"
    assert v.alert_wording("ambulance/fall_not_conveyed") == "ambulance call for a fall, not taken to hospital"
    assert v.alert_wording("housing/completed/ramp") is None and v.alert_wording("ambulance/fall_conveyed") is None


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("ed/f*ll", "before its end"),
        ("ed/falls", "matches no code"),
        ("ambulance/fall", "matches no code"),
        ("housing/applied/*", "matches no code"),
    ],
)
def test_pattern_problems(pattern: str, problem: str) -> None:
    assert problem in (v.pattern_problem(pattern) or "")


@pytest.mark.parametrize("pattern", ["social_care/*", "gp/1912002", "rx/0401*", "ambulance/fall_*", "icd10/*", "*"])
def test_patterns_that_can_match(pattern: str) -> None:
    assert v.pattern_problem(pattern) is None
