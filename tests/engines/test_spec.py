"""Every registry feature's spec (``spec_cases``) on DuckDB and on Spark: one query per engine,
one test per feature and engine, each value exactly as the spec states."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from falls_risk.features.compute import compute_from_frames
from falls_risk.features.registry import FEATURES
from tests.engines.conftest import SPARK_MARKS
from tests.engines.spec_cases import CASES, D, events_frame, population_frame

ENGINES = [pytest.param("duckdb"), pytest.param("spark", marks=SPARK_MARKS)]


@pytest.fixture(scope="module", params=ENGINES)
def computed(request) -> tuple[str, pd.DataFrame]:
    engine = request.param
    table = compute_from_frames(events_frame(), population_frame(), [D], engine=engine)
    return engine, table.set_index("person_key")


def test_every_registry_feature_has_a_spec_with_people_who_get_a_value_and_people_who_do_not():
    assert set(CASES) == {spec.name for spec in FEATURES}
    for case in CASES.values():
        assert len(set(case.expected.values())) >= 2 or case.feature == "age", case.feature


@pytest.mark.parametrize("feature", [spec.name for spec in FEATURES])
def test_feature_meets_its_spec(computed, feature):
    engine, table = computed
    case = CASES[feature]
    for person, expected in case.expected.items():
        assert person in table.index, f"{engine}: {person} is missing from the cohort"
        got = table.at[person, feature]
        if math.isnan(expected):
            assert math.isnan(got), f"{engine}: {person} {feature} = {got}, expected missing"
        else:
            assert got == pytest.approx(expected, abs=1e-12), f"{engine}: {person} {feature} = {got}"


def test_the_cohort_leaves_out_the_dead_and_the_too_young(computed):
    _engine, table = computed
    assert "lives_alone/late_spouse" not in table.index
    assert len(table) == sum(len(c.expected) for c in CASES.values())


# --- The per-engine expressions, on both engines --------------------------------------------------

PAIRS = [  # (start, end, whole months, whole years)
    ("1958-01-31", "2023-01-30", 779, 64),
    ("1958-01-31", "2023-01-31", 780, 65),
    ("2024-01-31", "2024-02-29", 0, 0),
    ("2024-01-31", "2024-03-01", 1, 0),
    ("2020-02-29", "2021-02-28", 11, 0),
    ("2020-02-29", "2021-03-01", 12, 1),
]


def _expression_query(engine: str) -> str:
    from falls_risk.engines.expressions import whole_months_between, whole_years_between
    from falls_risk.engines.render import render

    rows = " UNION ALL ".join(
        f"SELECT {i} AS i, CAST('{a}' AS DATE) AS a, CAST('{b}' AS DATE) AS b" for i, (a, b, _, _) in enumerate(PAIRS)
    )
    sql = (f"SELECT i, {whole_months_between('a', 'b')} AS months, {whole_years_between('a', 'b')} AS years "
           f"FROM ({rows}) pairs ORDER BY i")
    return render(sql, engine)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_whole_months_and_years_between_dates(engine, request):
    if engine == "spark":
        spark = request.getfixturevalue("spark")
        got = [(r.months, r.years) for r in spark.sql(_expression_query(engine)).collect()]
    else:
        import duckdb

        got = [(m, y) for _, m, y in duckdb.sql(_expression_query(engine)).fetchall()]
    assert got == [(m, y) for _, _, m, y in PAIRS]
