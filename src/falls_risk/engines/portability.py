"""The portability check: a generated query may use only the SQL subset tested on both engines.

SQLGlot transpiles DuckDB SQL to Spark SQL, but not always faithfully. Measured (sqlglot 30,
PySpark 4): ``date_diff('year', dob, d)`` gave 74 on DuckDB and 73 on Spark, ``date_diff('month',
...)`` 2 against 1, a day difference of timestamps 1 against 0, ``list(x ORDER BY d)`` lost its
order and ``percentile_cont`` became an approximation, all without an error; ASOF JOIN, ``range()``,
``quantile_*``, FILTER or DISTINCT inside windows, ``list_sum``, ``age()``, MAP literals,
``* REPLACE`` and ``UNION BY NAME`` fail on Spark. So rather than trust the transpiler, every
generated query is parsed and refused unless each node is of a kind in :data:`ALLOWED_NODES`
(those the spec tests in ``tests/engines`` run on both engines) and passes the rules below:

- ``date_diff`` only in days, and only between dates (``CAST(x AS DATE)`` or a column that holds
  a date, :data:`DATE_COLUMNS`): year and month differences are written as explicit arithmetic
  (``falls_risk.engines.expressions``), which means the same on every engine;
- windows only for ``row_number()``, with no FILTER or DISTINCT;
- ``UNION ALL`` only (no set-distinct union, no ``BY NAME``); ``SELECT *`` without REPLACE,
  EXCLUDE or RENAME; joins inner, left or cross (no ASOF, no USING);
- intervals only in whole days; no function SQLGlot does not know (``Anonymous``).

Widening the subset means adding a spec test on both engines first, then the node here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp

from falls_risk.errors import EngineError, format_examples

# Node kinds whose meaning is the same on DuckDB and Spark (each is exercised by tests/engines).
ALLOWED_NODES: frozenset[type[exp.Expression]] = frozenset(
    {
        # query structure
        exp.Select, exp.From, exp.Where, exp.Group, exp.Order, exp.Ordered, exp.With, exp.CTE,
        exp.Subquery, exp.Table, exp.TableAlias, exp.Alias, exp.Join, exp.Union, exp.Window,
        exp.Column, exp.Identifier, exp.Star, exp.Paren, exp.Literal, exp.Null, exp.Boolean,
        exp.DataType, exp.Var, exp.Distinct, exp.Filter,
        # scalar logic and arithmetic
        exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is,
        exp.In, exp.Between, exp.Like, exp.Escape, exp.Case, exp.If, exp.Coalesce, exp.Nullif,
        exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Floor, exp.Least, exp.Greatest, exp.Cast,
        # text and dates
        exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Year, exp.Month, exp.Day, exp.DateDiff,
        exp.Interval,
        # aggregates and the one window function
        exp.Count, exp.Sum, exp.Min, exp.Max, exp.RowNumber,
    }
)

# Columns of the pipeline's tables that hold dates (DATE, never timestamps).
DATE_COLUMNS = frozenset(
    {"index_date", "date_of_death", "deregistration_date", "registration_date", "admission_date",
     "discharge_date"}
)
ALLOWED_JOINS = frozenset({("", ""), ("", "INNER"), ("LEFT", ""), ("LEFT", "OUTER"), ("", "CROSS")})
ALLOWED_TYPES = frozenset(
    {exp.DataType.Type.DATE, exp.DataType.Type.DOUBLE, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
     exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.VARCHAR,
     exp.DataType.Type.TEXT, exp.DataType.Type.BOOLEAN}
)


class PortabilityError(EngineError):
    """A generated query uses SQL outside the subset tested on every engine."""


def _snippet(node: exp.Expression) -> str:
    text = node.sql(dialect="duckdb")
    return text if len(text) <= 80 else text[:77] + "..."


def _is_date(node: exp.Expression) -> bool:
    if isinstance(node, exp.Cast):
        return node.to.this == exp.DataType.Type.DATE
    if isinstance(node, exp.Column):
        return node.name in DATE_COLUMNS
    return False


def problems(sql: str) -> list[str]:
    """Every construct in ``sql`` (DuckDB dialect) outside the tested subset, as readable lines."""
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        return [f"the SQL does not parse as DuckDB SQL ({exc})"]
    found: list[str] = []
    for statement in statements:
        if statement is None:
            continue
        for node in statement.walk():
            kind = type(node)
            if kind not in ALLOWED_NODES:
                label = f"function {node.name}()" if isinstance(node, exp.Anonymous) else kind.__name__
                found.append(f"{label} is outside the tested subset: {_snippet(node)}")
                continue
            found.extend(_rule_problems(node))
    return list(dict.fromkeys(found))


def _union_ok(node: exp.Union) -> bool:
    return not any(node.args.get(k) for k in ("distinct", "by_name", "side", "kind"))


def _star_ok(node: exp.Star) -> bool:
    return not any(node.args.get(k) for k in ("replace", "except_", "rename", "ilike"))


def _join_ok(node: exp.Join) -> bool:
    side, kind = (node.args.get("side") or "").upper(), (node.args.get("kind") or "").upper()
    return not node.args.get("method") and not node.args.get("using") and (side, kind) in ALLOWED_JOINS


def _interval_ok(node: exp.Interval) -> bool:
    return node.unit is not None and node.unit.name.upper() == "DAY"


def _rule_problems(node: exp.Expression) -> list[str]:
    if isinstance(node, exp.DateDiff):
        unit = (node.unit.name if node.unit is not None else "DAY").upper()
        if unit != "DAY":
            return [(f"date_diff in {unit.lower()}s changes meaning on Spark (write it with "
                    f"falls_risk.engines.expressions): {_snippet(node)}")]
        if not (_is_date(node.this) and _is_date(node.expression)):
            return [f"date_diff of values not known to be dates (CAST them AS DATE): {_snippet(node)}"]
        return []
    rules: list[tuple[type[exp.Expression], Callable[[Any], bool], str]] = [
        (exp.Window, lambda n: isinstance(n.this, exp.RowNumber), "only row_number() may be a window function"),
        (exp.Union, _union_ok, "only UNION ALL is portable"),
        (exp.Star, _star_ok, "SELECT * with REPLACE / EXCLUDE / RENAME is not portable"),
        (exp.Join, _join_ok, "only inner, left and cross joins with ON are portable"),
        (exp.Interval, _interval_ok, "intervals only in whole days are portable"),
        (exp.DataType, lambda n: n.this in ALLOWED_TYPES, "this type is outside the tested subset"),
    ]
    return [f"{message}: {_snippet(node)}" for kind, ok, message in rules if isinstance(node, kind) and not ok(node)]


def check_portable(sql: str, *, what: str) -> None:
    """Raise :class:`PortabilityError` naming every construct of ``sql`` outside the subset."""
    found = problems(sql)
    if found:
        raise PortabilityError(
            f"The {what} query uses SQL that is not proven to mean the same on DuckDB and Spark: "
            f"{format_examples(found)}. Rewrite it within the subset of falls_risk.engines.portability "
            "(or add a spec test on both engines in tests/engines first, then widen the subset)."
        )
