"""SQL generated from the feature registry (pure functions returning SQL strings).

The SQL runs on DuckDB and is kept to constructs SQLGlot can transpile to Spark SQL
(``sqlglot.transpile(sql, read="duckdb", write="spark")``). It reads three relations the runner
provides: ``events`` (the event table), ``population`` (the pseudonymised spine) and
``index_dates`` (one ``index_date`` DATE per row). Every index date is computed in the same
query: the cohort is a cross join of the spine with the index dates, and each feature is a
filtered aggregate over the events of the person known at that date.

The point-in-time rule is written once, in :func:`known_at_index`; the label window once, in
:func:`in_label_window`.
"""

from __future__ import annotations

from datetime import date

from falls_risk.config import FeatureConfig
from falls_risk.features.registry import FEATURES
from falls_risk.features.spec import FeatureSpec

DEMOGRAPHIC_AGGREGATIONS = ("age_years", "sex_code", "wimd_quintile", "local_authority_code", "lives_alone")
DERIVED_AGGREGATIONS = ("sum_of",)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- The point-in-time rule and the label window: written once, used everywhere ---------------


def known_at_index(days_before: str, lag: str = "lag_days") -> str:
    """An event (or an episode's end) is known at an index date only if it happened strictly
    before the index date minus its source's arrival lag.

    ``days_before`` is ``index_date - date of the event`` in days (1 = the day before).
    """
    return f"({days_before} > {lag})"


def in_label_window(days_after: str, horizon_days: int) -> str:
    """Label events fall in (index date, index date + horizon]."""
    return f"({days_after} BETWEEN 1 AND {int(horizon_days)})"


def lag_days_expr(source_column: str, config: FeatureConfig) -> str:
    """Each event's source arrival lag in days (0 unless configured)."""
    lags = {s: d for s, d in sorted(config.arrival_lag_days.items()) if d}
    if not lags:
        return "0"
    whens = " ".join(f"WHEN {quote(s)} THEN {int(d)}" for s, d in lags.items())
    return f"CASE {source_column} {whens} ELSE 0 END"


# --- Code sets --------------------------------------------------------------------------------


def code_predicate(codes: tuple[str, ...], column: str = "code") -> str:
    """``code IN (...)`` for exact codes, ``code LIKE 'x%'`` for codes ending in ``*``."""
    exact = [c for c in codes if not c.endswith("*")]
    prefixes = [c[:-1] for c in codes if c.endswith("*")]
    parts = []
    if exact:
        parts.append(f"{column} IN ({', '.join(quote(c) for c in exact)})")
    parts.extend(f"{column} LIKE {quote(p + '%')}" for p in prefixes)
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def code_sets(specs: tuple[FeatureSpec, ...] = FEATURES) -> dict[tuple[str, ...], str]:
    """Each distinct code tuple of the registry and the flag column that marks it."""
    sets: dict[tuple[str, ...], str] = {}
    for spec in specs:
        if spec.codes and spec.codes not in sets:
            sets[spec.codes] = f"m{len(sets)}"
    return sets


# --- One expression per feature -----------------------------------------------------------------


def _window(spec: FeatureSpec) -> str:
    return "" if spec.window_days is None else f" AND days_before <= {int(spec.window_days)}"


def event_aggregate(spec: FeatureSpec, flag: str | None) -> str | None:
    """The aggregate over known events (``known`` CTE) computing one feature, or None."""
    used = f"{flag} AND strong{_window(spec)}" if flag else ""
    open_at_cutoff = f"NOT coalesce({known_at_index('end_days_before')}, FALSE)"
    agg = spec.aggregation
    if agg == "count":
        return f"count(*) FILTER (WHERE {used})"
    if agg == "any":
        return f"CASE WHEN count(*) FILTER (WHERE {used}) > 0 THEN 1 ELSE 0 END"
    if agg == "bed_days":
        # Days in hospital up to the cut-off: the discharge counts only if it was known by then.
        stay = (
            f"CASE WHEN {known_at_index('end_days_before')} THEN days_before - end_days_before "
            f"ELSE days_before - lag_days END"
        )
        return f"sum({stay}) FILTER (WHERE {used})"
    if agg == "days_since":
        return f"min(days_before) FILTER (WHERE {used})"
    if agg == "active_any":
        return f"CASE WHEN count(*) FILTER (WHERE {used} AND {open_at_cutoff}) > 0 THEN 1 ELSE 0 END"
    if agg == "active_sum_value":
        return f"sum(coalesce(value, 0)) FILTER (WHERE {used} AND {open_at_cutoff})"
    if agg == "distinct_bnf_paragraphs":
        # 'rx/' + the 7-character BNF paragraph.
        return f"count(DISTINCT substr(code, 1, 10)) FILTER (WHERE {used})"
    if agg == "trend":
        half = int(spec.window_days or 0) // 2
        return (
            f"count(*) FILTER (WHERE {used} AND days_before <= {half}) - "
            f"count(*) FILTER (WHERE {used} AND days_before > {half})"
        )
    if agg == "weak_link_share":
        return "CAST(count(*) FILTER (WHERE strong AND weak) AS DOUBLE) / nullif(count(*) FILTER (WHERE strong), 0)"
    if agg == "excluded_count":
        return "count(*) FILTER (WHERE NOT strong)"
    return None


# Aggregations whose "no events" value is 0 rather than missing.
_ZERO_WHEN_NO_EVENTS = ("count", "any", "bed_days", "active_any", "active_sum_value",
                        "distinct_bnf_paragraphs", "trend", "excluded_count")


def demographic_expression(spec: FeatureSpec, config: FeatureConfig) -> str:
    """Expression over the cohort row ``c`` (spine columns at the index date)."""
    agg = spec.aggregation
    if agg == "age_years":
        return "c.age_years"
    if agg == "sex_code":
        whens = " ".join(f"WHEN {quote(v.upper())} THEN {i}" for i, v in enumerate(spec.categories))
        return f"CASE upper(trim(c.sex)) {whens} ELSE NULL END"
    if agg == "local_authority_code":
        whens = " ".join(f"WHEN {quote(v.lower())} THEN {i}" for i, v in enumerate(spec.categories))
        return f"CASE lower(trim(c.local_authority)) {whens} ELSE NULL END"
    if agg == "wimd_quintile":
        n = int(config.wimd_lsoa_count)
        return (
            f"CASE WHEN c.wimd_rank IS NULL OR c.wimd_rank < 1 THEN NULL "
            f"ELSE least(5, 1 + CAST(floor((c.wimd_rank - 1) * 5.0 / {n}) AS INTEGER)) END"
        )
    if agg == "lives_alone":
        return "CASE WHEN c.household_key IS NULL THEN NULL WHEN h.household_size = 1 THEN 1 ELSE 0 END"
    raise ValueError(f"{spec.name}: not a demographic aggregation: {agg}")


def _alive_and_registered(p: str) -> str:
    return (
        f"({p}.date_of_death IS NULL OR {p}.date_of_death > i.index_date) "
        f"AND {p}.registration_date < i.index_date "
        f"AND ({p}.deregistration_date IS NULL OR {p}.deregistration_date > i.index_date)"
    )


def _age_expr(p: str) -> str:
    months = (
        f"(year(i.index_date) * 12 + month(i.index_date)) - "
        f"(CAST(substr({p}.birth_month, 1, 4) AS INTEGER) * 12 + CAST(substr({p}.birth_month, 6, 2) AS INTEGER))"
    )
    return f"CAST(floor(({months}) / 12.0) AS INTEGER)"


def cohort_sql(config: FeatureConfig) -> str:
    """People alive, registered with a GP and aged ``min_age``+ at each index date."""
    return (
        "SELECT p.person_key, i.index_date, p.sex, p.local_authority, p.wimd_rank, p.household_key, "
        f"p.date_of_death, {_age_expr('p')} AS age_years "
        "FROM population p CROSS JOIN index_dates i "
        f"WHERE {_alive_and_registered('p')} AND p.birth_month IS NOT NULL "
        f"AND {_age_expr('p')} >= {int(config.min_age)}"
    )


def households_sql() -> str:
    """Living registered people per household at each index date (for "lives alone")."""
    return (
        "SELECT p.household_key, i.index_date, count(*) AS household_size "
        "FROM population p CROSS JOIN index_dates i "
        f"WHERE p.household_key IS NOT NULL AND {_alive_and_registered('p')} "
        "GROUP BY p.household_key, i.index_date"
    )


def feature_sql(
    config: FeatureConfig,
    *,
    label_known_until: date | None,
    specs: tuple[FeatureSpec, ...] = FEATURES,
) -> str:
    """The whole feature query: one row per cohort member per index date.

    Columns: ``person_key``, ``index_date``, every feature in registry order, ``label`` and
    ``died_in_window``. ``label_known_until`` is the last day the inpatient data is complete
    (extract date minus the inpatient arrival lag); a label window ending after it is NULL.
    """
    sets = code_sets(specs)
    flags = ", ".join(f"{code_predicate(codes, 'e.code')} AS {flag}" for codes, flag in sets.items())
    flags = (", " + flags) if flags else ""
    min_p = float(config.min_match_probability)
    weak_p = float(config.weak_link_probability)
    horizon = int(config.label_horizon_days)

    aggregates = []
    for spec in specs:
        expr = event_aggregate(spec, sets.get(spec.codes))
        if expr is not None:
            aggregates.append(f"{expr} AS {spec.name}")
    agg_cols = ", ".join(aggregates)

    def column(spec: FeatureSpec) -> str:
        if spec.aggregation in DEMOGRAPHIC_AGGREGATIONS:
            return demographic_expression(spec, config)
        if spec.aggregation == "sum_of":
            return "(" + " + ".join(column(next(s for s in specs if s.name == n)) for n in spec.inputs) + ")"
        if spec.aggregation in _ZERO_WHEN_NO_EVENTS:
            return f"coalesce(a.{spec.name}, 0)"
        return f"a.{spec.name}"

    select_cols = ",\n  ".join(f"CAST({column(s)} AS DOUBLE) AS {s.name}" for s in specs)

    if label_known_until is None:
        label_expr = "CAST(NULL AS INTEGER)"
        window_covered = "FALSE"
    else:
        window_covered = f"(c.index_date + INTERVAL '{horizon}' DAY <= DATE {quote(label_known_until.isoformat())})"
        label_expr = f"CASE WHEN {window_covered} THEN (CASE WHEN l.fall_admissions > 0 THEN 1 ELSE 0 END) END"
    death_days_after = "date_diff('day', c.index_date, c.date_of_death)"
    died_expr = (
        f"CASE WHEN c.date_of_death IS NOT NULL AND {in_label_window(death_days_after, horizon)} THEN 1 "
        f"WHEN {window_covered} THEN 0 END"
    )

    return f"""WITH cohort AS (
  {cohort_sql(config)}
),
households AS (
  {households_sql()}
),
ev AS (
  SELECT c.person_key, c.index_date, e.code, e.value,
    date_diff('day', CAST(e.event_time AS DATE), c.index_date) AS days_before,
    date_diff('day', CAST(e.end_time AS DATE), c.index_date) AS end_days_before,
    {lag_days_expr('e.source', config)} AS lag_days,
    coalesce(e.match_probability, 1.0) >= {min_p} AS strong,
    coalesce(e.match_probability, 1.0) < {weak_p} AS weak{flags}
  FROM events e JOIN cohort c ON e.person_key = c.person_key
),
known AS (
  SELECT * FROM ev WHERE {known_at_index('days_before')}
),
agg AS (
  SELECT person_key, index_date, {agg_cols}
  FROM known GROUP BY person_key, index_date
),
labels AS (
  SELECT c.person_key, c.index_date, count(*) AS fall_admissions
  FROM events e JOIN cohort c ON e.person_key = c.person_key
  WHERE e.code = 'inpatient/fall_emergency'
    AND coalesce(e.match_probability, 1.0) >= {min_p}
    AND {in_label_window("date_diff('day', c.index_date, CAST(e.event_time AS DATE))", horizon)}
  GROUP BY c.person_key, c.index_date
)
SELECT c.person_key, c.index_date,
  {select_cols},
  CAST({label_expr} AS TINYINT) AS label,
  CAST({died_expr} AS TINYINT) AS died_in_window
FROM cohort c
LEFT JOIN households h ON h.household_key = c.household_key AND h.index_date = c.index_date
LEFT JOIN agg a ON a.person_key = c.person_key AND a.index_date = c.index_date
LEFT JOIN labels l ON l.person_key = c.person_key AND l.index_date = c.index_date
"""
