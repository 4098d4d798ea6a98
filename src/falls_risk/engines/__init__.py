"""Query engines: DuckDB on one machine, Spark on a cluster, running the same generated SQL.

- ``session``: the one Spark session factory (local mode bound to loopback, or any cluster);
- ``portability``: the check that refuses any SQL construct outside the subset tested on both
  engines (SQLGlot's DuckDB-to-Spark transpilation changes some meanings without an error);
- ``render``: a generated DuckDB query rendered for an engine, checked first;
- ``expressions``: the few expressions written per engine rather than transpiled.
"""

from __future__ import annotations

from typing import Literal

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")
