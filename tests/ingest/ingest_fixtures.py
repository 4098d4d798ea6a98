"""Tiny inline extracts for ingest tests: one small, valid table per source, written as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from falls_risk.identity import nhs_check_digit


def valid_nhs(seed: int) -> str:
    """The ``seed``-th valid NHS number from a fixed start (deterministic, synthetic)."""
    found = 0
    n = 400_000_000
    while True:
        stem = f"{n:09d}"
        check = nhs_check_digit(stem)
        if check is not None:
            if found == seed:
                return stem + str(check)
            found += 1
        n += 1


NHS = [valid_nhs(i) for i in range(4)]


def canonical_tables() -> dict[str, list[dict[str, str]]]:
    """A valid canonical extract: every source, every column, two or three rows each."""
    return {
        "population": [
            {
                "nhs_number": NHS[0],
                "forename": "José",
                "surname": "O'Néill",
                "date_of_birth": "1940-02-03",
                "sex": "M",
                "postcode": "CF10 1AA",
                "address_line": "1 High Street",
                "lsoa_code": "W01000001",
                "local_authority": "Cardiff",
                "registration_date": "2000-01-01",
                "deregistration_date": "",
                "date_of_death": "",
            },
            {
                "nhs_number": NHS[1],
                "forename": "Ann",
                "surname": "Smith",
                "date_of_birth": "1950-05-06",
                "sex": "F",
                "postcode": "CF10 1AB",
                "address_line": "2 High Street",
                "lsoa_code": "W01000002",
                "local_authority": "Cardiff",
                "registration_date": "2001-01-01",
                "deregistration_date": "",
                "date_of_death": "2024-06-01",
            },
            {
                "nhs_number": NHS[2],
                "forename": "Bob",
                "surname": "Jones",
                "date_of_birth": "1945-12-01",
                "sex": "M",
                "postcode": "CF10 1AD",
                "address_line": "3 High Street",
                "lsoa_code": "W01000002",
                "local_authority": "Cardiff",
                "registration_date": "2001-01-01",
                "deregistration_date": "",
                "date_of_death": "",
            },
        ],
        "deprivation": [
            {"lsoa_code": "W01000001", "wimd_rank": "12"},
            {"lsoa_code": "W01000002", "wimd_rank": "1900"},
        ],
        "inpatient_spells": [
            {
                "spell_id": "S1",
                "nhs_number": NHS[0],
                "date_of_birth": "1940-02-03",
                "sex": "M",
                "postcode": "CF10 1AA",
                "admission_date": "2024-01-05",
                "discharge_date": "2024-01-10",
                "admission_method": "emergency",
                "diagnoses": "S72.0;W01.0",
            },
            {
                "spell_id": "S2",
                "nhs_number": NHS[1],
                "date_of_birth": "1950-05-06",
                "sex": "F",
                "postcode": "CF10 1AB",
                "admission_date": "2024-02-05",
                "discharge_date": "2024-02-06",
                "admission_method": "elective",
                "diagnoses": "I10",
            },
        ],
        "ed_attendances": [
            {
                "attendance_id": "E1",
                "nhs_number": NHS[0],
                "forename": "Jose",
                "surname": "ONeill",
                "date_of_birth": "1940-02-03",
                "sex": "M",
                "postcode": "CF10 1AA",
                "arrival_time": "2024-01-05T10:15:00",
                "arrival_mode": "ambulance",
                "presenting_complaint": "fall",
                "disposal": "admitted",
            },
            {
                "attendance_id": "E2",
                "nhs_number": "",
                "forename": "Ann",
                "surname": "Smith",
                "date_of_birth": "1950-05-06",
                "sex": "F",
                "postcode": "cf101ab",
                "arrival_time": "2024-03-01 22:00:00",
                "arrival_mode": "self",
                "presenting_complaint": "breathing",
                "disposal": "discharged",
            },
        ],
        "gp_events": [
            {"nhs_number": NHS[0], "event_date": "2023-01-01", "snomed_code": "1912002"},
            {"nhs_number": NHS[0], "event_date": "2023-01-01", "snomed_code": "1912002"},
            {"nhs_number": NHS[1], "event_date": "2023-05-01", "snomed_code": "38341003"},
        ],
        "prescriptions": [
            {
                "nhs_number": NHS[0], "issue_date": "2023-02-01", "bnf_code": "0401010T0AAABAB", "drug_name": "Temazepam"
            },
            {"nhs_number": NHS[1], "issue_date": "2023-03-01", "bnf_code": "0205051", "drug_name": ""},
        ],
        "social_care": [
            {
                "record_id": "R1",
                "client_id": "C1",
                "forename": "Ann",
                "surname": "Smith",
                "date_of_birth": "1950-05-06",
                "sex": "F",
                "postcode": "CF10 1AB",
                "address_line": "2 High Street",
                "service_type": "home_care",
                "start_date": "2023-06-01",
                "end_date": "",
                "weekly_hours": "7.5",
            },
        ],
        "police_incidents": [
            {
                "incident_id": "P1",
                "incident_date": "2023-07-01",
                "person_role": "victim",
                "forename": "Bob",
                "surname": "Jones",
                "date_of_birth": "1945-12-01",
                "postcode": "CF10 1AD",
                "incident_type": "fraud_scam",
            },
            {
                "incident_id": "P1",
                "incident_date": "2023-07-01",
                "person_role": "suspect",
                "forename": "Ed",
                "surname": "Crook",
                "date_of_birth": "",
                "postcode": "",
                "incident_type": "fraud_scam",
            },
        ],
        "ambulance_calls": [
            {
                "call_id": "A1",
                "call_time": "2024-01-05T09:40:00",
                "nhs_number": NHS[0],
                "forename": "Jose",
                "surname": "O'Neill",
                "date_of_birth": "1940-02-03",
                "sex": "M",
                "postcode": "CF10 1AA",
                "chief_complaint": "fall",
                "conveyed": "true",
            },
            {
                "call_id": "A2",
                "call_time": "2024-06-30 23:59:59",
                "nhs_number": "",
                "forename": "Bob",
                "surname": "Jones",
                "date_of_birth": "",
                "sex": "",
                "postcode": "",
                "chief_complaint": "fall",
                "conveyed": "false",
            },
        ],
        "housing_adaptations": [
            {
                "application_id": "H1",
                "forename": "Bob",
                "surname": "Jones",
                "date_of_birth": "1945-12-01",
                "postcode": "CF10 1AD",
                "address_line": "3 High Street",
                "adaptation_type": "grab_rails",
                "application_date": "2022-01-01",
                "completed_date": "2022-03-01",
            },
        ],
    }


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_extract(folder: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    for source, rows in tables.items():
        write_csv(folder / f"{source}.csv", rows)
    return folder
