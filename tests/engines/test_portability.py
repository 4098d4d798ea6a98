"""The portability check refuses every construct known to change meaning or fail on Spark, and
passes every query the feature stage generates (the check runs on each one, on both engines)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot

from falls_risk.config import FeatureConfig
from falls_risk.engines.expressions import whole_months_between, whole_years_between
from falls_risk.engines.portability import PortabilityError, check_portable, problems
from falls_risk.engines.render import render
from falls_risk.errors import FallsRiskError
from falls_risk.features.sql import code_map_sql, feature_sql

# Each measured to change meaning silently or fail on Spark (sqlglot 30, PySpark 4).
REFUSED = {
    "date_diff in years": "SELECT date_diff('year', dob, index_date) FROM t",
    "date_diff in months": "SELECT date_diff('month', dob, index_date) FROM t",
    "day difference of timestamps": "SELECT date_diff('day', event_time, index_date) FROM t",
    "ordered list": "SELECT list(x ORDER BY d) FROM t",
    "percentile_cont": "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t",
    "ASOF JOIN": "SELECT * FROM a ASOF JOIN b ON a.k = b.k AND a.t >= b.t",
    "range()": "SELECT * FROM range(10)",
    "quantile": "SELECT quantile_cont(x, 0.5) FROM t",
    "FILTER in a window": "SELECT count(*) FILTER (WHERE x > 1) OVER (PARTITION BY k) FROM t",
    "DISTINCT in a window": "SELECT count(DISTINCT x) OVER (PARTITION BY k) FROM t",
    "list_sum": "SELECT list_sum(xs) FROM t",
    "age()": "SELECT age(dob) FROM t",
    "MAP literal": "SELECT MAP {'a': 1} AS m FROM t",
    "* REPLACE": "SELECT * REPLACE (x + 1 AS x) FROM t",
    "* EXCLUDE": "SELECT * EXCLUDE (x) FROM t",
    "UNION BY NAME": "SELECT 1 AS a UNION BY NAME SELECT 2 AS a",
    "set-distinct UNION": "SELECT 1 AS a UNION SELECT 2 AS a",
    "interval in months": "SELECT index_date + INTERVAL '1' MONTH FROM t",
}

CONFIGS = [
    FeatureConfig(),
    FeatureConfig(arrival_lag_days={"police_incidents": 61, "social_care": 30, "inpatient_spells": 14},
                  label_horizon_days=730, min_age=50),
]


@pytest.mark.parametrize("construct", sorted(REFUSED))
def test_a_construct_outside_the_tested_subset_is_refused_with_a_message(construct):
    sql = REFUSED[construct]
    assert problems(sql), construct
    with pytest.raises(PortabilityError, match="not proven to mean the same") as caught:
        check_portable(sql, what="test")
    assert isinstance(caught.value, FallsRiskError)  # the CLI prints it and exits 1
    with pytest.raises(PortabilityError):
        render(sql, "duckdb")  # refused on DuckDB too: nothing only DuckDB can run gets through


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("until", [None, date(2025, 1, 31)])
def test_every_generated_feature_query_is_within_the_subset(config, until):
    for sql in (feature_sql(config, label_known_until=until), code_map_sql()):
        assert problems(sql) == []
        spark_sql = render(sql, "spark")
        sqlglot.parse_one(spark_sql, read="spark")
        assert "DATEDIFF(DAY" not in spark_sql.upper()  # day differences as Spark's datediff(end, start)


def test_a_day_difference_renders_as_sparks_calendar_day_datediff():
    sql = "SELECT date_diff('day', CAST(e.event_time AS DATE), c.index_date) AS d FROM t"
    assert "DATEDIFF(c.index_date, CAST(e.event_time AS DATE))" in render(sql, "spark")
    assert render(sql, "duckdb") == sql


def test_whole_year_and_month_expressions_are_portable():
    sql = (f"SELECT {whole_years_between('birth', 'index_date')} AS age, "
           f"{whole_months_between('birth', 'index_date')} AS months FROM t")
    assert problems(sql) == []


def test_an_unknown_engine_is_refused():
    with pytest.raises(FallsRiskError, match="engine"):
        render("SELECT 1 AS x", "postgres")  # type: ignore[arg-type]
