"""Parquet and Excel extracts read the same as CSV; a council's own export read through a mapping."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from falls_risk.errors import ExtractError
from falls_risk.ingest import run_ingest
from tests.ingest.ingest_fixtures import NHS, canonical_tables, write_extract

EXAMPLE_MAPPING = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "council_social_care.yaml"


def table_rows(ws: Path, folder: str, source: str) -> list[dict]:
    return pq.read_table(ws / folder / f"{source}.parquet").to_pylist()


def test_parquet_and_excel_sources_give_the_same_tables_as_csv(tmp_path: Path) -> None:
    tables = canonical_tables()
    as_csv = write_extract(tmp_path / "csv", tables)
    mixed = write_extract(tmp_path / "mixed", tables)
    # Parquet with typed columns, as an agency's warehouse would write it.
    calls = pd.DataFrame(tables["ambulance_calls"]).replace("", None)
    calls["call_time"] = pd.to_datetime(calls["call_time"].str.replace("T", " "))
    calls["conveyed"] = calls["conveyed"] == "true"
    calls["date_of_birth"] = pd.to_datetime(calls["date_of_birth"]).dt.date
    (mixed / "ambulance_calls.csv").unlink()
    pq.write_table(pa.Table.from_pandas(calls, preserve_index=False), mixed / "ambulance_calls.parquet")
    dep = pd.DataFrame(tables["deprivation"]).astype({"wimd_rank": "int64"})
    (mixed / "deprivation.csv").unlink()
    pq.write_table(pa.Table.from_pandas(dep, preserve_index=False), mixed / "deprivation.parquet")
    # Excel with real date cells.
    housing = pd.DataFrame(tables["housing_adaptations"]).replace("", None)
    for col in ("date_of_birth", "application_date", "completed_date"):
        housing[col] = pd.to_datetime(housing[col])
    (mixed / "housing_adaptations.csv").unlink()
    housing.to_excel(mixed / "housing_adaptations.xlsx", index=False)

    run_ingest(as_csv, tmp_path / "ws_csv", progress=False)
    summary = run_ingest(mixed, tmp_path / "ws_mixed", progress=False)
    assert summary.sources["ambulance_calls"].format == "parquet"
    assert summary.sources["housing_adaptations"].format == "xlsx"
    for source in ("ambulance_calls", "deprivation", "housing_adaptations"):
        assert summary.sources[source].quarantined == 0, summary.sources[source].reasons
        assert table_rows(tmp_path / "ws_mixed", "ingested", source) == table_rows(
            tmp_path / "ws_csv", "ingested", source
        ), source


def test_timestamp_dates_and_midnight_times_read_as_their_exporters_meant(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["ambulance_calls"][0]["call_time"] = "2024-01-05T00:00:00"
    as_csv = write_extract(tmp_path / "csv", tables)
    typed = write_extract(tmp_path / "typed", tables)
    # pandas writes dates parsed with to_datetime as Parquet timestamps ("1940-02-03 00:00:00" as text).
    population = pd.DataFrame(tables["population"]).replace("", None)
    for col in [c for c in population.columns if "date" in c]:
        population[col] = pd.to_datetime(population[col])
    (typed / "population.csv").unlink()
    population.to_parquet(typed / "population.parquet", index=False)
    # A spreadsheet shows a call at midnight as the date alone.
    calls = pd.DataFrame(tables["ambulance_calls"]).replace("", None)
    calls["call_time"] = pd.to_datetime(calls["call_time"].str.replace("T", " "))
    (typed / "ambulance_calls.csv").unlink()
    calls.to_excel(typed / "ambulance_calls.xlsx", index=False)

    run_ingest(as_csv, tmp_path / "ws_csv", progress=False)
    summary = run_ingest(typed, tmp_path / "ws_typed", progress=False)
    for source in ("population", "ambulance_calls"):
        assert summary.sources[source].quarantined == 0, summary.sources[source].reasons
        assert table_rows(tmp_path / "ws_typed", "ingested", source) == table_rows(
            tmp_path / "ws_csv", "ingested", source
        ), source
    assert table_rows(tmp_path / "ws_typed", "ingested", "ambulance_calls")[0]["call_time"] == dt.datetime(2024, 1, 5)


def test_a_csv_saved_as_excel_csv_utf8_keeps_its_first_columns_text(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["inpatient_spells"][0]["spell_id"] = "007"
    tables["inpatient_spells"][1]["spell_id"] = "7"
    extract = write_extract(tmp_path / "extract", tables)
    path = extract / "inpatient_spells.csv"
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8-sig")  # with a byte-order mark
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert summary.sources["inpatient_spells"].quarantined == 0, summary.sources["inpatient_spells"].reasons
    ids = [row["spell_id"] for row in table_rows(tmp_path / "ws", "ingested", "inpatient_spells")]
    assert ids[:2] == ["007", "7"]


def write_council_export(folder: Path) -> Path:
    """A council's export in its own shape: its own column names, UK dates, sex 1/2/9, cp1252."""
    folder.mkdir(parents=True)
    tables = canonical_tables()
    write_extract(folder, {"population": tables["population"]})
    episodes = [
        {
            "Episode Ref": "EP-1",
            "Client Ref": "C100",
            "First Name": "Zoë",
            "Surname": "Smith",
            "DOB": "06/05/1950",
            "Gender": "2",
            "Post Code": "cf10 1ab",
            "Address 1": "2 High Street",
            "Service": "Domiciliary Care",
            "Start Date": "01/06/2023",
            "End Date": "NULL",
            "Hours Per Week": "7.5",
        },
        {
            "Episode Ref": "EP-2",
            "Client Ref": "C100",
            "First Name": "Zoë",
            "Surname": "Smith",
            "DOB": "06/05/1950",
            "Gender": "2",
            "Post Code": "CF10 1AB",
            "Address 1": "2 High Street",
            "Service": "Telecare",
            "Start Date": "15/06/2023",
            "End Date": "",
            "Hours Per Week": "",
        },
        {
            "Episode Ref": "EP-3",
            "Client Ref": "C200",
            "First Name": "Bob",
            "Surname": "Jones",
            "DOB": "01/12/1945",
            "Gender": "1",
            "Post Code": "N/K",
            "Address 1": "3 High Street",
            "Service": "Day Centre",
            "Start Date": "31/02/2023",
            "End Date": "",
            "Hours Per Week": "",
        },
        {
            "Episode Ref": "EP-4",
            "Client Ref": "C300",
            "First Name": "Pat",
            "Surname": "Doe",
            "DOB": "",
            "Gender": "9",
            "Post Code": "",
            "Address 1": "",
            "Service": "Meals on Wheels",
            "Start Date": "01/07/2023",
            "End Date": "",
            "Hours Per Week": "",
        },
    ]
    with (folder / "WCCIS Service Episodes.csv").open("w", encoding="cp1252", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(episodes[0]))
        writer.writeheader()
        writer.writerows(episodes)
    calls = pd.DataFrame(
        [
            {
                "Incident Number": "W1",
                "Call Date Time": "05/01/2024 09:40",
                "NHS No": NHS[0][:3] + " " + NHS[0][3:],
                "Patient Forename": "Jose",
                "Patient Surname": "O'Neill",
                "Patient DOB": "03/02/1940",
                "Patient Sex": "Male",
                "Patient Postcode": "CF10 1AA",
                "Chief Complaint": "Falls",
                "Conveyed": "Y",
            },
            {
                "Incident Number": "W2",
                "Call Date Time": dt.datetime(2024, 2, 1, 14, 5, 0),
                "NHS No": "",
                "Patient Forename": "Bob",
                "Patient Surname": "Jones",
                "Patient DOB": "",
                "Patient Sex": "Unknown",
                "Patient Postcode": "",
                "Chief Complaint": "Other",
                "Conveyed": "N",
            },
        ]
    )
    with pd.ExcelWriter(folder / "wast_calls.xlsx") as writer:
        pd.DataFrame({"About": ["WAST calls extract"]}).to_excel(writer, sheet_name="Cover", index=False)
        calls.to_excel(writer, sheet_name="Calls", index=False)
    return folder


def test_a_council_export_is_read_unchanged_through_the_example_mapping(tmp_path: Path) -> None:
    extract = write_council_export(tmp_path / "council")
    ws = tmp_path / "ws"
    summary = run_ingest(
        extract, ws, mapping=EXAMPLE_MAPPING, extract_date=dt.date(2024, 12, 31), accept_quarantine=True,
        progress=False,
    )
    assert summary.quarantine_accepted == {"social_care": 0.5}  # 2 of its 4 rows, accepted knowingly

    care = summary.sources["social_care"]
    assert care.file == "WCCIS Service Episodes.csv"
    assert (care.read, care.accepted, care.quarantined) == (4, 2, 2)
    accepted = table_rows(ws, "ingested", "social_care")
    first = accepted[0]
    assert first["record_id"] == "EP-1" and first["client_id"] == "C100"
    assert first["forename"] == "zoe" and first["forename_raw"] == "Zoë"
    assert first["date_of_birth"] == dt.date(1950, 5, 6)
    assert first["start_date"] == dt.date(2023, 6, 1) and first["end_date"] is None  # "NULL" is missing
    assert first["sex"] == "F" and first["postcode"] == "CF10 1AB"
    assert first["service_type"] == "home_care" and first["weekly_hours"] == 7.5
    assert accepted[1]["service_type"] == "telecare"
    rejected = {r["row_number"]: r for r in table_rows(ws, "quarantine", "social_care")}
    assert rejected[3]["reasons"] == "unparseable date in start_date"
    assert rejected[3]["start_date"] == "31/02/2023"  # raw value, under its contract name
    assert rejected[4]["reasons"].startswith("service_type not one of")
    assert rejected[4]["service_type"] == "Meals on Wheels"  # the raw value, as exported

    calls = table_rows(ws, "ingested", "ambulance_calls")
    assert [c["call_id"] for c in calls] == ["W1", "W2"]
    assert calls[0]["call_time"] == dt.datetime(2024, 1, 5, 9, 40)
    assert calls[1]["call_time"] == dt.datetime(2024, 2, 1, 14, 5)  # a real Excel date cell
    assert calls[0]["nhs_number"] == NHS[0] and calls[0]["nhs_number_invalid"] is False
    assert [c["conveyed"] for c in calls] == [True, False]
    assert [c["sex"] for c in calls] == ["M", "U"]
    assert [c["chief_complaint"] for c in calls] == ["fall", "other"]
    assert [c["date_of_birth"] for c in calls] == [dt.date(1940, 2, 3), None]


def test_without_the_mapping_the_council_export_is_refused_with_a_hint(tmp_path: Path) -> None:
    extract = write_council_export(tmp_path / "council")
    text = (extract / "WCCIS Service Episodes.csv").read_text(encoding="cp1252")
    (extract / "social_care.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    message = str(err.value)
    assert "social_care.csv" in message and "Client Ref" in message and "--mapping" in message
