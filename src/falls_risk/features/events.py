"""One long event table from the linked sources (MEDS-like).

Columns: ``person_key``, ``event_time`` (timestamp), ``source`` (the contract source),
``code``, ``value`` (double; bed days, weekly hours), ``end_time`` (end of an episode, when it
has one), ``match_probability``. Records that linkage could not attach to a person are left out.

Codes:

- ``inpatient/<admission_method>`` per spell (value = length of stay in days, end_time =
  discharge); ``inpatient/fall_emergency`` when an emergency spell has any diagnosis in ICD-10
  W00-W19 (the contract's outcome); ``inpatient/hip_fracture`` when an emergency spell has a hip
  fracture diagnosis; ``icd10/<code>`` per diagnosis.
- ``ed/<presenting_complaint>`` per attendance.
- ``gp/<snomed>``, ``rx/<bnf>``.
- ``ambulance/<chief_complaint>_conveyed`` or ``..._not_conveyed``.
- ``social_care/<service_type>`` at the start (value = weekly hours, end_time = end date).
- ``police/<incident_type>`` per involvement, plus ``police/victim`` when they were the victim.
- ``housing/application/<type>`` at application (end_time = completion) and
  ``housing/completed/<type>`` at completion.

The table is built by one DuckDB query (``events_sql``), so it scales to the whole of Wales.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from falls_risk import codelists
from falls_risk.catalog import EVENTS, LINKED, POPULATION
from falls_risk.config import FeatureConfig
from falls_risk.contract import OUTCOME_ICD10_PREFIXES, PERSON_SOURCES
from falls_risk.errors import WorkspaceError
from falls_risk.workspace import Workspace, atomic_path, sql_path

EVENT_COLUMNS = ("person_key", "event_time", "source", "code", "value", "end_time", "match_probability")


def _diagnosis_regex(prefixes: tuple[str, ...]) -> str:
    return "(^|;)(" + "|".join(prefixes) + ")"


def _select(
    source: str, table: str, code: str, time: str, value: str = "NULL", end: str = "NULL", where: str = "TRUE"
) -> str:
    return (
        f"SELECT person_key, CAST({time} AS TIMESTAMP) AS event_time, '{source}' AS source, {code} AS code, "
        f"CAST({value} AS DOUBLE) AS value, CAST({end} AS TIMESTAMP) AS end_time, "
        f"CAST(match_probability AS DOUBLE) AS match_probability "
        f"FROM {table} WHERE person_key IS NOT NULL AND {time} IS NOT NULL AND ({where})"
    )


def source_events_sql(source: str, table: str) -> list[str]:
    """SELECT statements turning one linked source table into events (pure function)."""
    fall = _diagnosis_regex(OUTCOME_ICD10_PREFIXES)
    hip = _diagnosis_regex(codelists.icd10_prefixes("hip_fracture"))
    emergency = "lower(admission_method) = 'emergency'"
    if source == "inpatient_spells":
        stay = "date_diff('day', CAST(admission_date AS DATE), CAST(discharge_date AS DATE))"
        return [
            _select(
                source,
                table,
                "'inpatient/' || lower(admission_method)",
                "admission_date",
                stay,
                "discharge_date",
            ),
            _select(
                source,
                table,
                "'inpatient/fall_emergency'",
                "admission_date",
                where=f"{emergency} AND regexp_matches(replace(upper(diagnoses), '.', ''), '{fall}')",
            ),
            _select(
                source,
                table,
                "'inpatient/hip_fracture'",
                "admission_date",
                where=f"{emergency} AND regexp_matches(replace(upper(diagnoses), '.', ''), '{hip}')",
            ),
            _select(
                source,
                f"(SELECT *, unnest(string_split(replace(upper(diagnoses), '.', ''), ';')) AS diagnosis FROM {table})",
                "'icd10/' || trim(diagnosis)",
                "admission_date",
                where="trim(diagnosis) <> ''",
            ),
        ]
    if source == "ed_attendances":
        return [_select(source, table, "'ed/' || lower(presenting_complaint)", "arrival_time")]
    if source == "gp_events":
        return [_select(source, table, "'gp/' || CAST(snomed_code AS VARCHAR)", "event_date")]
    if source == "prescriptions":
        return [_select(source, table, "'rx/' || upper(bnf_code)", "issue_date")]
    if source == "ambulance_calls":
        code = (
            "'ambulance/' || lower(chief_complaint) || "
            "CASE WHEN conveyed THEN '_conveyed' ELSE '_not_conveyed' END"
        )
        return [_select(source, table, code, "call_time")]
    if source == "social_care":
        return [
            _select(
                source,
                table,
                "'social_care/' || lower(service_type)",
                "start_date",
                "weekly_hours",
                "end_date",
            )
        ]
    if source == "police_incidents":
        return [
            _select(source, table, "'police/' || lower(incident_type)", "incident_date"),
            _select(source, table, "'police/victim'", "incident_date", where="lower(person_role) = 'victim'"),
        ]
    if source == "housing_adaptations":
        return [
            _select(
                source,
                table,
                "'housing/application/' || lower(adaptation_type)",
                "application_date",
                end="completed_date",
            ),
            _select(source, table, "'housing/completed/' || lower(adaptation_type)", "completed_date"),
        ]
    raise ValueError(f"no event mapping for source {source!r}")


def events_sql(workspace: Workspace) -> str:
    """The query that builds the event table from the linked sources present in the workspace."""
    parts: list[str] = []
    for source in PERSON_SOURCES:
        path = LINKED.path(workspace, source=source)
        if path.exists():
            parts.extend(source_events_sql(source, f"read_parquet({sql_path(path)})"))
    if not parts:
        # No person source at all: an empty table with the right columns.
        parts.append(
            "SELECT CAST(NULL AS VARCHAR) AS person_key, CAST(NULL AS TIMESTAMP) AS event_time, "
            "CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS code, CAST(NULL AS DOUBLE) AS value, "
            "CAST(NULL AS TIMESTAMP) AS end_time, CAST(NULL AS DOUBLE) AS match_probability WHERE FALSE"
        )
    return "\nUNION ALL\n".join(parts)


def connect(config: FeatureConfig) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config=({"threads": config.duckdb_threads, "memory_limit": config.duckdb_memory_limit})
    )
    con.execute("SET preserve_insertion_order = false")
    return con


def require_linked(workspace: Workspace) -> None:
    POPULATION.require(workspace)


def build_events(workspace: str | Path | Workspace, config: FeatureConfig | None = None) -> Path:
    """Write the events table (``catalog.EVENTS``) from the linked sources (atomically). Returns its path."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    config = config or FeatureConfig()
    require_linked(ws)
    target = EVENTS.path(ws)
    con = connect(config)
    try:
        with atomic_path(target) as staged:
            con.execute(f"COPY ({events_sql(ws)}) TO {sql_path(staged)} (FORMAT parquet, COMPRESSION zstd)")
    except duckdb.Error as exc:
        raise WorkspaceError(
            f"Could not build events from {LINKED.path(ws, source='*').parent}: {exc}. Check that the linked tables were written "
            f"by `falls-risk link` (re-run it if in doubt)."
        ) from None
    finally:
        con.close()
    return target
