"""A generated query (DuckDB dialect) rendered for an engine.

The feature registry's SQL is generated once, in DuckDB's dialect. DuckDB runs it as written;
for Spark it is checked (``portability.check_portable``) and transpiled with SQLGlot, with the
one rewrite SQLGlot does not make faithfully: a day difference becomes Spark's two-argument
``datediff(end, start)``, which counts calendar days between dates (SQLGlot's
``DATEDIFF(DAY, a, b)`` is Spark's ``timestampdiff``, which counts whole 24-hour periods).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from falls_risk.engines import ENGINES, Engine
from falls_risk.engines.portability import check_portable
from falls_risk.errors import parameter_error


def _spark_day_difference(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DateDiff):
        return exp.Anonymous(this="datediff", expressions=[node.this, node.expression])
    return node


def render(sql: str, engine: Engine, *, what: str = "generated") -> str:
    """``sql`` as ``engine`` runs it; refuses SQL outside the portable subset on every engine, so
    a query that only DuckDB could run never passes the DuckDB tests unnoticed."""
    if engine not in ENGINES:
        raise parameter_error("engine", " or ".join(ENGINES), engine)
    check_portable(sql, what=what)
    if engine == "duckdb":
        return sql
    # DuckDB's date_diff(unit, start, end) parses to DateDiff(this=end, expression=start).
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_spark_day_difference)
    return tree.sql(dialect="spark")
