"""Expressions written out per engine instead of transpiled (their transpilation changes meaning).

Each is built from ``year()``, ``month()``, ``day()`` and integer arithmetic, which mean the same
on DuckDB and Spark, so the one generated query needs no engine branch; the portability check
refuses ``date_diff`` in years or months, which SQLGlot renders as Spark functions that count
differently (whole 31-day months, fractional years rounded).
"""

from __future__ import annotations


def whole_months_between(start: str, end: str) -> str:
    """Whole calendar months from ``start`` to ``end`` (dates): 2024-01-31 -> 2024-02-29 is 0,
    -> 2024-03-01 is 1 (a month is complete when ``end``'s day of month reaches ``start``'s)."""
    return (
        f"((year({end}) * 12 + month({end})) - (year({start}) * 12 + month({start})) "
        f"- CASE WHEN day({end}) < day({start}) THEN 1 ELSE 0 END)"
    )


def whole_years_between(start: str, end: str) -> str:
    """Whole years from ``start`` to ``end`` (an age on a birthday's eve is the year before)."""
    return f"CAST(floor({whole_months_between(start, end)} / 12.0) AS INTEGER)"
