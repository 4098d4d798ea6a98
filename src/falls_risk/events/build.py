"""One long event table from the linked sources (MEDS-like).

Columns: ``person_key``, ``event_time`` (timestamp), ``source`` (the contract source),
``code``, ``value`` (double; bed days, weekly hours), ``end_time`` (end of an episode, when it
has one), ``match_probability``, ``known_time`` (when the record became known to its agency's
extract: ``contract.Source.known_column``, so a spell's events at its discharge; never before the
event itself). Records that linkage could not attach to a person are left out.

Every code is emitted through its kind in ``falls_risk.events.vocabulary``, which lists them all
(``inpatient/fall_emergency``, ``ed/<presenting_complaint>``, ``gp/<snomed_code>``, ...), with
what ``value`` and ``end_time`` hold for each.

The table is built by one DuckDB query (``events_sql``), so it scales to the whole of Wales.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from falls_risk import codelists
from falls_risk.catalog import EVENTS, LINKED, POPULATION
from falls_risk.config import FeatureConfig
from falls_risk.contract import OUTCOME_ICD10_PREFIXES, PERSON_SOURCES, SOURCES
from falls_risk.errors import WorkspaceError
from falls_risk.events import vocabulary as v
from falls_risk.events.vocabulary import EventKind
from falls_risk.workspace import Workspace, atomic_path, sql_path

EVENT_COLUMNS = (
    "person_key", "event_time", "source", "code", "value", "end_time", "match_probability", "known_time"
)


def _diagnosis_regex(prefixes: tuple[str, ...]) -> str:
    return "(^|;)(" + "|".join(prefixes) + ")"


def _select(
    kind: EventKind,
    table: str,
    time: str,
    *,
    of: str | None = None,
    code: str | None = None,
    value: str = "NULL",
    end: str = "NULL",
    where: str = "TRUE",
) -> str:
    """Events of one kind: its code from the SQL ``of`` its value (or the whole ``code`` SQL).

    Its ``known_time``: when its row became known (the source's ``known_column``), or the event's
    own time if later (a completion filled in on an application sent before). NULL (a spell
    without a discharge) is never known.
    """
    code = kind.sql(of) if code is None else code
    known_from = SOURCES[kind.source].known_column
    known = f"CAST({time} AS TIMESTAMP)" if known_from in (None, time) else (
        f"CASE WHEN {known_from} IS NOT NULL "
        f"THEN greatest(CAST({known_from} AS TIMESTAMP), CAST({time} AS TIMESTAMP)) END"
    )
    return (
        f"SELECT person_key, CAST({time} AS TIMESTAMP) AS event_time, '{kind.source}' AS source, {code} AS code, "
        f"CAST({value} AS DOUBLE) AS value, CAST({end} AS TIMESTAMP) AS end_time, "
        f"CAST(match_probability AS DOUBLE) AS match_probability, {known} AS known_time "
        f"FROM {table} WHERE person_key IS NOT NULL AND {time} IS NOT NULL AND ({where})"
    )


def source_events_sql(source: str, table: str) -> list[str]:
    """SELECT statements turning one linked source table into events (pure function)."""
    fall = _diagnosis_regex(OUTCOME_ICD10_PREFIXES)
    hip = _diagnosis_regex(codelists.icd10_prefixes("hip_fracture"))
    emergency = "lower(admission_method) = 'emergency'"
    if source == "inpatient_spells":
        stay = "date_diff('day', CAST(admission_date AS DATE), CAST(discharge_date AS DATE))"
        diagnoses = "replace(upper(diagnoses), '.', '')"
        return [
            _select(v.ADMISSION, table, "admission_date", of="lower(admission_method)", value=stay,
                    end="discharge_date"),
            _select(v.FALL_ADMISSION, table, "admission_date",
                    where=f"{emergency} AND regexp_matches({diagnoses}, '{fall}')"),
            _select(v.HIP_FRACTURE_ADMISSION, table, "admission_date",
                    where=f"{emergency} AND regexp_matches({diagnoses}, '{hip}')"),
            _select(v.DIAGNOSIS, f"(SELECT *, unnest(string_split({diagnoses}, ';')) AS diagnosis FROM {table})",
                    "admission_date", of="trim(diagnosis)", where="trim(diagnosis) <> ''"),
        ]
    if source == "ed_attendances":
        return [_select(v.ED_ATTENDANCE, table, "arrival_time", of="lower(presenting_complaint)")]
    if source == "gp_events":
        return [_select(v.GP_RECORD, table, "event_date", of="CAST(snomed_code AS VARCHAR)")]
    if source == "prescriptions":
        return [_select(v.PRESCRIPTION, table, "issue_date", of="upper(bnf_code)")]
    if source == "ambulance_calls":
        complaint = "lower(chief_complaint)"
        code = (
            f"CASE WHEN conveyed THEN {v.AMBULANCE_CONVEYED.sql(complaint)} "
            f"ELSE {v.AMBULANCE_NOT_CONVEYED.sql(complaint)} END"
        )
        return [_select(v.AMBULANCE_CONVEYED, table, "call_time", code=code)]
    if source == "social_care":
        return [_select(v.SOCIAL_CARE, table, "start_date", of="lower(service_type)", value="weekly_hours",
                        end="end_date")]
    if source == "police_incidents":
        return [
            _select(v.POLICE_INCIDENT, table, "incident_date", of="lower(incident_type)"),
            _select(v.POLICE_VICTIM, table, "incident_date", where="lower(person_role) = 'victim'"),
        ]
    if source == "housing_adaptations":
        adaptation = "lower(adaptation_type)"
        return [
            _select(v.HOUSING_APPLICATION, table, "application_date", of=adaptation, end="completed_date"),
            _select(v.HOUSING_COMPLETED, table, "completed_date", of=adaptation),
        ]
    raise ValueError(f"no event mapping for source {source!r}")


def events_sql(workspace: Workspace) -> str:
    """The query that builds the event table from the linked sources present in the workspace."""
    parts: list[str] = []
    for source in PERSON_SOURCES:
        path = LINKED.path(workspace, source=source)
        if path.exists():
            parts.extend(source_events_sql(source, f"read_parquet({sql_path(path)})"))
    return _union(parts)


def _union(parts: list[str]) -> str:
    if not parts:
        # No person source at all: an empty table with the right columns.
        parts.append(
            "SELECT CAST(NULL AS VARCHAR) AS person_key, CAST(NULL AS TIMESTAMP) AS event_time, "
            "CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS code, CAST(NULL AS DOUBLE) AS value, "
            "CAST(NULL AS TIMESTAMP) AS end_time, CAST(NULL AS DOUBLE) AS match_probability, "
            "CAST(NULL AS TIMESTAMP) AS known_time WHERE FALSE"
        )
    return "\nUNION ALL\n".join(parts)


def connect(config: FeatureConfig) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config=({"threads": config.duckdb_threads, "memory_limit": config.duckdb_memory_limit})
    )
    con.execute("SET preserve_insertion_order = false")
    return con


def events_from_frames(sources: Mapping[str, pd.DataFrame], config: FeatureConfig | None = None) -> pd.DataFrame:
    """The event table from in-memory linked source tables (``{source: frame}``), by the same
    query as :func:`build_events`; writes nothing."""
    con = connect(config or FeatureConfig())
    try:
        parts: list[str] = []
        for source in PERSON_SOURCES:
            if source in sources:
                con.register(f"linked_{source}", sources[source])
                parts.extend(source_events_sql(source, f"linked_{source}"))
        return con.sql(_union(parts)).df()
    finally:
        con.close()


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
