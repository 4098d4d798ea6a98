"""A tiny hand-built linked workspace where every right answer is known.

Index date of most checks: 2023-01-01. Extract date: 2024-03-31, so labels for 2023-01-01 are
known (window ends 2024-01-01) and labels for 2023-06-01 are not (window ends 2024-05-31).

People:
- ``p1``: woman born 1940-05, lives alone in Cardiff (WIMD rank 100), many events (below).
- ``p2``: man born 1950-01, lives with ``p3`` in Swansea (rank 1909); one weak link (0.97),
  one excluded link (0.85); dies 2023-08-01 without a fall admission.
- ``p3``: woman born 1957-12 (65 at 2023-01-01); housing adaptation applied 2022-10-01,
  completed 2023-03-01.
- ``p4``: born 1958-02, 64 at 2023-01-01 (out), 65 at 2023-04-01 (in).
- ``p5``: died 2022-06-01 (out). ``p6``: registered 2023-02-01 (out at 2023-01-01).
- ``p7``: sex U, no address (household unknown), local authority not Welsh, no WIMD rank.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from falls_risk import catalog
from falls_risk.ingest.summary import IngestSummary
from falls_risk.workspace import Workspace

D = date(2023, 1, 1)
EXTRACT_DATE = date(2024, 3, 31)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _d(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _table(rows: list[dict], schema: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({name: pa.array([r.get(name) for r in rows], type=t) for name, t in schema.items()})


LINK = {
    "person_key": pa.string(),
    "match_probability": pa.float64(),
    "link_method": pa.string(),
    "unlinked_reason": pa.string(),
    "row_number": pa.int64(),
}


def _linked(rows: list[dict]) -> list[dict]:
    out = []
    for i, r in enumerate(rows, start=1):
        r = dict(r)
        r.setdefault("match_probability", 1.0)
        r["link_method"] = (
            "unlinked"
            if r.get("person_key") is None
            else ("nhs_number" if r["match_probability"] == 1.0 else "probabilistic")
        )
        r["row_number"] = i
        out.append(r)
    return out


POPULATION = [
    {
        "person_key": "p1",
        "sex": "F",
        "birth_month": "1940-05",
        "lsoa_code": "W01000001",
        "wimd_rank": 100,
        "local_authority": "Cardiff",
        "registration_date": _d("1990-01-01"),
        "household_key": "h1",
    },
    {
        "person_key": "p2",
        "sex": "M",
        "birth_month": "1950-01",
        "lsoa_code": "W01000002",
        "wimd_rank": 1909,
        "local_authority": "swansea",
        "registration_date": _d("1990-01-01"),
        "household_key": "h2",
        "date_of_death": _d("2023-08-01"),
    },
    {
        "person_key": "p3",
        "sex": "F",
        "birth_month": "1957-12",
        "lsoa_code": "W01000002",
        "wimd_rank": 1909,
        "local_authority": "Swansea",
        "registration_date": _d("1990-01-01"),
        "household_key": "h2",
    },
    {
        "person_key": "p4",
        "sex": "M",
        "birth_month": "1958-02",
        "lsoa_code": "W01000003",
        "wimd_rank": 955,
        "local_authority": "Newport",
        "registration_date": _d("1990-01-01"),
        "household_key": "h4",
    },
    {
        "person_key": "p5",
        "sex": "F",
        "birth_month": "1930-01",
        "lsoa_code": "W01000003",
        "wimd_rank": 955,
        "local_authority": "Newport",
        "registration_date": _d("1990-01-01"),
        "household_key": "h4",
        "date_of_death": _d("2022-06-01"),
    },
    {
        "person_key": "p6",
        "sex": "F",
        "birth_month": "1945-03",
        "lsoa_code": "W01000003",
        "wimd_rank": 955,
        "local_authority": "Newport",
        "registration_date": _d("2023-02-01"),
        "household_key": "h6",
    },
    {
        "person_key": "p7",
        "sex": "U",
        "birth_month": "1944-07",
        "lsoa_code": None,
        "wimd_rank": None,
        "local_authority": "Atlantis",
        "registration_date": _d("1990-01-01"),
        "household_key": None,
    },
]

INPATIENT = [
    # p1: fall with hip fracture, 10 bed days, 31 days before D.
    {
        "spell_id": "s1",
        "person_key": "p1",
        "admission_date": _d("2022-12-01"),
        "discharge_date": _d("2022-12-11"),
        "admission_method": "emergency",
        "diagnoses": "S720;W010",
    },
    # p1: elective spell 3 years back, 2 bed days.
    {
        "spell_id": "s2",
        "person_key": "p1",
        "admission_date": _d("2019-06-01"),
        "discharge_date": _d("2019-06-03"),
        "admission_method": "elective",
        "diagnoses": "I10",
    },
    # p1: the outcome, inside (D, D+365].
    {
        "spell_id": "s3",
        "person_key": "p1",
        "admission_date": _d("2023-06-01"),
        "discharge_date": _d("2023-06-20"),
        "admission_method": "emergency",
        "diagnoses": "S7200;W19",
    },
    # p2: a non-fall emergency admission still open at D (admitted 5 days before, left after).
    {
        "spell_id": "s4",
        "person_key": "p2",
        "admission_date": _d("2022-12-27"),
        "discharge_date": _d("2023-01-10"),
        "admission_method": "emergency",
        "diagnoses": "J18",
    },
    # Unlinked spell: must vanish.
    {
        "spell_id": "s5",
        "person_key": None,
        "match_probability": None,
        "admission_date": _d("2022-12-01"),
        "discharge_date": _d("2022-12-02"),
        "admission_method": "emergency",
        "diagnoses": "W01",
    },
]

ED = [
    {
        "attendance_id": "a1",
        "person_key": "p1",
        "arrival_time": _dt("2022-12-01T10:00:00"),
        "arrival_mode": "ambulance",
        "presenting_complaint": "fall",
        "disposal": "admitted",
    },
    # On the index date itself: not before it, so not counted.
    {
        "attendance_id": "a2",
        "person_key": "p1",
        "arrival_time": _dt("2023-01-01T09:00:00"),
        "arrival_mode": "self",
        "presenting_complaint": "fall",
        "disposal": "discharged",
    },
    {
        "attendance_id": "a3",
        "person_key": "p1",
        "arrival_time": _dt("2021-06-01T12:00:00"),
        "arrival_mode": "self",
        "presenting_complaint": "breathing",
        "disposal": "discharged",
    },
    # p2: a weak (but kept) link.
    {
        "attendance_id": "a4",
        "person_key": "p2",
        "match_probability": 0.97,
        "arrival_time": _dt("2022-10-01T08:00:00"),
        "arrival_mode": "self",
        "presenting_complaint": "chest_pain",
        "disposal": "discharged",
    },
]

GP = [
    {"person_key": "p1", "event_date": _d("2015-03-01"), "snomed_code": "52448006"},  # dementia
    {"person_key": "p1", "event_date": _d("2022-06-01"), "snomed_code": "1912002"},  # fall
    {"person_key": "p1", "event_date": _d("2018-01-01"), "snomed_code": "38341003"},  # hypertension
    {"person_key": "p3", "event_date": _d("2023-02-01"), "snomed_code": "49049000"},  # Parkinson's after D
]

RX = [
    {
        "person_key": "p1",
        "issue_date": _d("2022-11-20"),
        "bnf_code": "0401010X0AAAAAA",
        "drug_name": "zopiclone",
    },
    {
        "person_key": "p1",
        "issue_date": _d("2022-12-20"),
        "bnf_code": "0205051R0AAAAAA",
        "drug_name": "ramipril",
    },
    {
        "person_key": "p1",
        "issue_date": _d("2022-11-20"),
        "bnf_code": "0205051R0AAAAAA",
        "drug_name": "ramipril",
    },
    {"person_key": "p1", "issue_date": _d("2022-12-30"), "bnf_code": "0101010", "drug_name": "antacid"},
    {
        "person_key": "p1",
        "issue_date": _d("2022-08-01"),
        "bnf_code": "0403010",
        "drug_name": "amitriptyline",
    },  # > 90 days
]

AMBULANCE = [
    {
        "call_id": "c1",
        "person_key": "p1",
        "call_time": _dt("2022-11-15T03:00:00"),
        "chief_complaint": "fall",
        "conveyed": False,
    },
    {
        "call_id": "c2",
        "person_key": "p1",
        "call_time": _dt("2022-12-01T09:30:00"),
        "chief_complaint": "fall",
        "conveyed": True,
    },
    # p2: linked below the cut-off: excluded from features, counted as excluded.
    {
        "call_id": "c3",
        "person_key": "p2",
        "match_probability": 0.85,
        "call_time": _dt("2022-12-01T09:30:00"),
        "chief_complaint": "other",
        "conveyed": True,
    },
]

SOCIAL = [
    {
        "record_id": "r1",
        "person_key": "p1",
        "service_type": "home_care",
        "start_date": _d("2022-06-01"),
        "end_date": None,
        "weekly_hours": 7.5,
    },
    {
        "record_id": "r2",
        "person_key": "p1",
        "service_type": "telecare",
        "start_date": _d("2020-01-01"),
        "end_date": _d("2021-01-01"),
        "weekly_hours": None,
    },
    {
        "record_id": "r3",
        "person_key": "p1",
        "service_type": "assessment",
        "start_date": _d("2022-05-01"),
        "end_date": _d("2022-05-01"),
        "weekly_hours": None,
    },
]

POLICE = [
    # 17 days before D: inside a 61-day police arrival lag.
    {
        "incident_id": "i1",
        "person_key": "p1",
        "incident_date": _d("2022-12-15"),
        "person_role": "victim",
        "incident_type": "fraud_scam",
    },
    {
        "incident_id": "i2",
        "person_key": "p1",
        "incident_date": _d("2022-03-01"),
        "person_role": "subject_of_concern",
        "incident_type": "concern_for_welfare",
    },
]

HOUSING = [
    {
        "application_id": "x1",
        "person_key": "p3",
        "adaptation_type": "grab_rails",
        "application_date": _d("2022-10-01"),
        "completed_date": _d("2023-03-01"),
    },
]

SCHEMAS = {
    "population": {
        "person_key": pa.string(),
        "sex": pa.string(),
        "birth_month": pa.string(),
        "lsoa_code": pa.string(),
        "wimd_rank": pa.int64(),
        "local_authority": pa.string(),
        "registration_date": pa.date32(),
        "deregistration_date": pa.date32(),
        "date_of_death": pa.date32(),
        "household_key": pa.string(),
    },
    "inpatient_spells": {
        "spell_id": pa.string(),
        "sex": pa.string(),
        "admission_date": pa.date32(),
        "discharge_date": pa.date32(),
        "admission_method": pa.string(),
        "diagnoses": pa.string(),
        **LINK,
    },
    "ed_attendances": {
        "attendance_id": pa.string(),
        "arrival_time": pa.timestamp("s"),
        "arrival_mode": pa.string(),
        "presenting_complaint": pa.string(),
        "disposal": pa.string(),
        **LINK,
    },
    "gp_events": {"event_date": pa.date32(), "snomed_code": pa.string(), **LINK},
    "prescriptions": {"issue_date": pa.date32(), "bnf_code": pa.string(), "drug_name": pa.string(), **LINK},
    "ambulance_calls": {
        "call_id": pa.string(),
        "call_time": pa.timestamp("s"),
        "chief_complaint": pa.string(),
        "conveyed": pa.bool_(),
        **LINK,
    },
    "social_care": {
        "record_id": pa.string(),
        "service_type": pa.string(),
        "start_date": pa.date32(),
        "end_date": pa.date32(),
        "weekly_hours": pa.float64(),
        **LINK,
    },
    "police_incidents": {
        "incident_id": pa.string(),
        "incident_date": pa.date32(),
        "person_role": pa.string(),
        "incident_type": pa.string(),
        **LINK,
    },
    "housing_adaptations": {
        "application_id": pa.string(),
        "adaptation_type": pa.string(),
        "application_date": pa.date32(),
        "completed_date": pa.date32(),
        **LINK,
    },
}

ROWS = {
    "inpatient_spells": INPATIENT,
    "ed_attendances": ED,
    "gp_events": GP,
    "prescriptions": RX,
    "ambulance_calls": AMBULANCE,
    "social_care": SOCIAL,
    "police_incidents": POLICE,
    "housing_adaptations": HOUSING,
}


def write_tiny_workspace(root: Path) -> Path:
    ws = Workspace(root)
    catalog.POPULATION.save(ws, _table(POPULATION, SCHEMAS["population"]))
    for source, rows in ROWS.items():
        catalog.LINKED.save(ws, _table(_linked(rows), SCHEMAS[source]), source=source)
    IngestSummary(
        extract_dir="tiny", workspace=str(root), extract_date=EXTRACT_DATE, extract_date_source="given",
        mapping=None, sources={}, absent_sources=[], ignored_files=[],
    ).write(ws)
    return root


def row(frame: pd.DataFrame, person: str, on: date = D) -> pd.Series:
    hit = frame[(frame["person_key"] == person) & (frame["index_date"] == pd.Timestamp(on))]
    assert len(hit) == 1, f"{person} at {on}: {len(hit)} rows"
    return hit.iloc[0]
