"""run_ingest on tiny inline extracts: outputs, quarantine reasons, accounting, re-runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from falls_risk.contract import SOURCES
from falls_risk.ingest import run_ingest
from tests.ingest.ingest_fixtures import NHS, canonical_tables, write_csv, write_extract


def ingested(ws: Path, source: str) -> list[dict]:
    return pq.read_table(ws / "ingested" / f"{source}.parquet").to_pylist()


def quarantined(ws: Path, source: str) -> list[dict]:
    return pq.read_table(ws / "quarantine" / f"{source}.parquet").to_pylist()


def test_a_clean_extract_is_accepted_whole_and_normalised(extract_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    summary = run_ingest(extract_dir, ws, progress=False)
    tables = canonical_tables()
    for source, rows in tables.items():
        s = summary.sources[source]
        assert (s.read, s.accepted, s.quarantined) == (len(rows), len(rows), 0), source
    assert summary.absent_sources == []
    pop = ingested(ws, "population")
    assert [r["row_number"] for r in pop] == [1, 2, 3]
    assert pop[0]["forename"] == "jose" and pop[0]["forename_raw"] == "José"
    assert pop[0]["surname"] == "o'neill" and pop[0]["surname_raw"] == "O'Néill"
    assert pop[0]["date_of_birth"] == dt.date(1940, 2, 3)
    assert pop[1]["date_of_death"] == dt.date(2024, 6, 1)
    spells = ingested(ws, "inpatient_spells")
    assert spells[0]["diagnoses"] == "S720;W010"
    ed = ingested(ws, "ed_attendances")
    assert ed[1]["postcode"] == "CF10 1AB"
    assert ed[0]["arrival_time"] == dt.datetime(2024, 1, 5, 10, 15)
    assert ed[1]["nhs_number"] is None and ed[1]["nhs_number_invalid"] is False
    calls = ingested(ws, "ambulance_calls")
    assert [c["conveyed"] for c in calls] == [True, False]
    assert ingested(ws, "deprivation")[1]["wimd_rank"] == 1900
    assert ingested(ws, "social_care")[0]["weekly_hours"] == 7.5
    # gp_events have no record id: a repeated row is a real repeat and is kept.
    assert len(ingested(ws, "gp_events")) == 3
    # police incident ids repeat once per person involved.
    assert len(ingested(ws, "police_incidents")) == 2


def test_output_types_match_the_architecture(extract_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_ingest(extract_dir, ws, progress=False)
    pop = pq.read_schema(ws / "ingested" / "population.parquet")
    assert pop.field("row_number").type == pa.int64()
    assert pop.field("date_of_birth").type == pa.date32()
    assert pop.field("nhs_number").type == pa.string()
    assert pop.field("nhs_number_invalid").type == pa.bool_()
    assert {"forename_raw", "surname_raw"} <= set(pop.names)
    ed = pq.read_schema(ws / "ingested" / "ed_attendances.parquet")
    # Parquet has no second unit: timestamp[s] is stored (and read back) as ms, at whole seconds.
    assert pa.types.is_timestamp(ed.field("arrival_time").type)
    assert ed.field("arrival_time").type.tz is None
    calls = pq.read_schema(ws / "ingested" / "ambulance_calls.parquet")
    assert calls.field("conveyed").type == pa.bool_()
    dep = pq.read_schema(ws / "ingested" / "deprivation.parquet")
    assert dep.field("wimd_rank").type == pa.int64()
    assert "nhs_number_invalid" not in dep.names
    quarantine = pq.read_schema(ws / "quarantine" / "population.parquet")
    assert {"row_number", "reasons"} <= set(quarantine.names)
    for source in SOURCES:
        names = pq.read_schema(ws / "ingested" / f"{source}.parquet").names
        assert names[0] == "row_number"
        assert set(SOURCES[source].column_names) <= set(names), source


def dirty_tables() -> dict[str, list[dict[str, str]]]:
    tables = canonical_tables()
    pop = tables["population"]
    pop.append(dict(pop[0], nhs_number=NHS[0], forename="Duplicate"))  # row 4: duplicate nhs_number
    pop.append(dict(pop[1], nhs_number="9434765918", forename="Invalid"))  # row 5: fails check: flagged only
    pop.append(dict(pop[2], nhs_number=NHS[3], sex="Q", date_of_birth="1945-02-30"))  # row 6: two reasons
    pop.append(dict(pop[2], nhs_number="", surname=""))  # row 7: missing required values
    spells = tables["inpatient_spells"]
    spells.append(dict(spells[0], spell_id="S1"))  # row 3: duplicate id
    spells.append(dict(spells[0], spell_id="S3", discharge_date="2024-01-01"))  # row 4: discharge first
    spells.append(dict(spells[0], spell_id="S4", date_of_birth="2024-02-01"))  # row 5: born after event
    spells.append(dict(spells[0], spell_id="S5", admission_date="2031-01-01", discharge_date="2031-01-02"))
    spells.append(dict(spells[0], spell_id="S6", admission_method="urgent", diagnoses="S72.0;??"))  # row 7
    tables["gp_events"].append({"nhs_number": NHS[0], "event_date": "01/02/2023", "snomed_code": "x"})
    tables["ambulance_calls"].append(dict(tables["ambulance_calls"][0], call_id="A3", conveyed="maybe"))
    # An event after the date of death is not a reason: records arrive late.
    tables["gp_events"].append({"nhs_number": NHS[1], "event_date": "2024-09-01", "snomed_code": "1912002"})
    return tables


@pytest.fixture
def dirty_ingest(tmp_path: Path):
    extract = write_extract(tmp_path / "extract", dirty_tables())
    ws = tmp_path / "ws"
    summary = run_ingest(extract, ws, extract_date=dt.date(2025, 1, 1), accept_quarantine=True, progress=False)
    return summary, ws


def reasons_by_row(ws: Path, source: str) -> dict[int, set[str]]:
    return {r["row_number"]: set(r["reasons"].split("; ")) for r in quarantined(ws, source)}


def test_every_row_level_problem_quarantines_the_row_with_all_its_reasons(dirty_ingest) -> None:
    summary, ws = dirty_ingest
    assert reasons_by_row(ws, "population") == {
        4: {"duplicate nhs_number"},
        6: {"sex not one of M/F/U", "unparseable date in date_of_birth"},
        7: {"missing nhs_number", "missing surname"},
    }
    assert reasons_by_row(ws, "inpatient_spells") == {
        3: {"duplicate spell_id"},
        4: {"discharge_date before admission_date"},
        5: {"date_of_birth after admission_date"},
        6: {"admission_date after the extract date"},
        7: {"admission_method not one of emergency/elective/other", "invalid ICD-10 code in diagnoses"},
    }
    assert reasons_by_row(ws, "gp_events") == {
        4: {"unparseable date in event_date", "invalid SNOMED CT code in snomed_code"}
    }
    assert reasons_by_row(ws, "ambulance_calls") == {3: {"conveyed not true/false"}}
    assert summary.sources["inpatient_spells"].reasons["duplicate spell_id"] == 1


def test_an_invalid_nhs_number_is_flagged_and_kept_not_quarantined(dirty_ingest) -> None:
    summary, ws = dirty_ingest
    row = next(r for r in ingested(ws, "population") if r["row_number"] == 5)
    assert row["nhs_number"] is None and row["nhs_number_invalid"] is True
    assert summary.sources["population"].nhs_number_invalid == 1


def test_quarantine_keeps_the_raw_values_as_given(dirty_ingest) -> None:
    _, ws = dirty_ingest
    row = next(r for r in quarantined(ws, "population") if r["row_number"] == 6)
    assert row["date_of_birth"] == "1945-02-30" and row["sex"] == "Q"
    assert row["forename"] == "Bob"  # as given, not case-folded


def test_nothing_is_dropped_silently(dirty_ingest) -> None:
    summary, ws = dirty_ingest
    tables = dirty_tables()
    for source, rows in tables.items():
        s = summary.sources[source]
        accepted = ingested(ws, source)
        rejected = quarantined(ws, source)
        assert s.read == len(rows) == s.accepted + s.quarantined, source
        assert (len(accepted), len(rejected)) == (s.accepted, s.quarantined), source
        numbers = sorted(r["row_number"] for r in accepted + rejected)
        assert numbers == list(range(1, len(rows) + 1)), source
    on_disk = json.loads((ws / "ingest_summary.json").read_text())
    for source, s in on_disk["sources"].items():
        assert s["read"] == s["accepted"] + s["quarantined"], source
        assert s["quarantined"] <= sum(s["reasons"].values())


def test_the_extract_date_defaults_to_the_latest_event_date(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert summary.extract_date == dt.date(2024, 6, 30)  # the A2 ambulance call
    assert "ambulance_calls.call_time" in summary.extract_date_source
    written = json.loads((tmp_path / "ws" / "ingest_summary.json").read_text())
    assert written["extract_date"] == "2024-06-30"


def test_events_after_a_given_extract_date_are_quarantined(extract_dir: Path, tmp_path: Path) -> None:
    summary = run_ingest(extract_dir, tmp_path / "ws", extract_date=dt.date(2024, 1, 31), progress=False)
    assert summary.extract_date_source == "given with --extract-date"
    assert summary.sources["ambulance_calls"].reasons == {"call_time after the extract date": 1}
    assert summary.sources["ed_attendances"].reasons == {"arrival_time after the extract date": 1}
    assert summary.sources["inpatient_spells"].reasons == {"admission_date after the extract date": 1}


def test_absent_sources_and_extra_columns_are_reported(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["population"] = [dict(r, gp_practice="W97001") for r in tables["population"]]
    extract = write_extract(tmp_path / "extract", {k: tables[k] for k in ("population", "gp_events")})
    (extract / "notes.txt").write_text("not a source")
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert set(summary.absent_sources) == set(SOURCES) - {"population", "gp_events"}
    assert summary.ignored_files == ["notes.txt"]
    assert summary.sources["population"].extra_columns == ["gp_practice"]
    assert ingested(tmp_path / "ws", "population")[0]["gp_practice"] == "W97001"
    assert not (tmp_path / "ws" / "ingested" / "social_care.parquet").exists()


def test_optional_columns_may_be_absent_and_come_out_empty(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["prescriptions"] = [
        {k: v for k, v in r.items() if k != "drug_name"} for r in tables["prescriptions"]
    ]
    extract = write_extract(tmp_path / "extract", tables)
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert summary.sources["prescriptions"].absent_optional_columns == ["drug_name"]
    assert [r["drug_name"] for r in ingested(tmp_path / "ws", "prescriptions")] == [None, None]


def test_a_rerun_replaces_the_whole_ingest(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    ws = tmp_path / "ws"
    run_ingest(extract, ws, progress=False)
    (extract / "social_care.csv").unlink()
    write_csv(extract / "gp_events.csv", tables["gp_events"][:1])
    run_ingest(extract, ws, progress=False)
    assert not (ws / "ingested" / "social_care.parquet").exists()
    assert not (ws / "quarantine" / "social_care.parquet").exists()
    assert len(ingested(ws, "gp_events")) == 1
    assert json.loads((ws / "ingest_summary.json").read_text())["sources"]["gp_events"]["read"] == 1
    assert not list(ws.glob(".ingest-staging-*"))


def test_a_failed_rerun_leaves_the_earlier_ingest_intact(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    ws = tmp_path / "ws"
    run_ingest(extract, ws, progress=False)
    before = {p.relative_to(ws): p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    write_csv(extract / "gp_events.csv", [{"nhs_number": NHS[0], "snomed_code": "1912002"}])
    from falls_risk.errors import ExtractError

    with pytest.raises(ExtractError):
        run_ingest(extract, ws, progress=False)
    after = {p.relative_to(ws): p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    assert after == before


def test_a_source_with_a_header_and_no_rows_is_ingested_empty(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    (extract / "gp_events.csv").write_text("nhs_number,event_date,snomed_code\n")
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert (summary.sources["gp_events"].read, summary.sources["gp_events"].accepted) == (0, 0)
    schema = pq.read_schema(tmp_path / "ws" / "ingested" / "gp_events.parquet")
    assert schema.field("event_date").type == pa.date32()


def test_headers_differing_only_in_case_or_spacing_are_matched(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["gp_events"] = [
        {"NHS Number": r["nhs_number"], "Event_Date": r["event_date"], " SNOMED_CODE ": r["snomed_code"]}
        for r in tables["gp_events"]
    ]
    extract = write_extract(tmp_path / "extract", tables)
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert summary.sources["gp_events"].accepted == 3
    assert summary.sources["gp_events"].extra_columns == []


def test_a_utf8_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" starts the file with a BOM.
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    write_csv(extract / "gp_events.csv", tables["gp_events"], encoding="utf-8-sig")
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert summary.sources["gp_events"].accepted == 3
    assert ingested(tmp_path / "ws", "gp_events")[0]["nhs_number"] == NHS[0]


def test_quoted_fields_may_hold_commas_and_newlines(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["population"][0]["address_line"] = 'Flat 2, "The Mill",\nMill Lane'
    extract = write_extract(tmp_path / "extract", tables)
    summary = run_ingest(extract, tmp_path / "ws", progress=False)
    assert summary.sources["population"].accepted == 3
    rows = ingested(tmp_path / "ws", "population")
    assert rows[0]["address_line"] == 'Flat 2, "The Mill",\nMill Lane'
    assert [r["row_number"] for r in rows] == [1, 2, 3]


def test_a_file_named_in_the_mapping_but_not_delivered_is_absent_and_said_so(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  police_incidents:\n    file: niche_export.xlsx\n")
    summary = run_ingest(extract, tmp_path / "ws", mapping=mapping, progress=False)
    assert "police_incidents" in summary.absent_sources
    assert any("niche_export.xlsx (police_incidents)" in note for note in summary.notes)
    assert summary.ignored_files == ["police_incidents.csv"]
