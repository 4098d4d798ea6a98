"""Ingest fails loudly (issue 14.3, 19.5, 19.9): too much quarantine, impossible dates, empty spines."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from falls_risk.config import IngestConfig, PipelineConfig
from falls_risk.errors import ExtractError
from falls_risk.ingest import IngestSummary, run_ingest
from tests.ingest.ingest_fixtures import NHS, canonical_tables, write_csv, write_extract


def wast_export(folder: Path, calls: int = 40) -> Path:
    """The canonical extract, with the ambulance calls as WAST sends them: date and time apart."""
    tables = canonical_tables()
    del tables["ambulance_calls"]
    write_extract(folder, tables)
    rows = [
        {
            "Incident Number": f"W{i}",
            "Call Date": f"{1 + i % 28:02d}/03/2024",
            "Call Time": f"{i % 24:02d}:{i % 60:02d}",
            "Patient Forename": "Ann",
            "Patient Surname": "Smith",
            "Chief Complaint": "fall",
            "Conveyed": "true",
        }
        for i in range(calls)
    ]
    write_csv(folder / "wast_calls.csv", rows)
    return folder


WRONG_MAPPING = """
sources:
  ambulance_calls:
    file: wast_calls.csv
    rename: {Incident Number: call_id, Call Date: call_time, Patient Forename: forename,
             Patient Surname: surname, Chief Complaint: chief_complaint, Conveyed: conveyed}
    datetime_format: "%d/%m/%Y %H:%M"
"""


def test_a_source_almost_all_quarantined_stops_the_ingest_naming_source_share_reason_and_row(tmp_path: Path) -> None:
    extract = wast_export(tmp_path / "extract")
    mapping = tmp_path / "wast.yaml"
    mapping.write_text(WRONG_MAPPING)
    ws = tmp_path / "ws"
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, ws, mapping=mapping, progress=False)
    message = str(err.value)
    assert "ambulance_calls (wast_calls.csv): 40 of 40 rows quarantined (100.0%, above the 5.0% allowed)" in message
    assert "unparseable datetime in call_time: 40 rows (e.g. wast_calls.csv row 1, column call_time)" in message
    assert "--accept-quarantine" in message
    # Row and column, never a value: no name, no date from the rows.
    assert "Smith" not in message and "Ann" not in message and "01/03/2024" not in message
    assert not (ws / "ingested").exists() and not (ws / "ingest_summary.json").exists()


def test_accept_quarantine_goes_on_and_is_recorded(tmp_path: Path) -> None:
    extract = wast_export(tmp_path / "extract")
    mapping = tmp_path / "wast.yaml"
    mapping.write_text(WRONG_MAPPING)
    summary = run_ingest(extract, tmp_path / "ws", mapping=mapping, accept_quarantine=True, progress=False)
    assert summary.quarantine_accepted == {"ambulance_calls": 1.0}
    assert IngestSummary.read(tmp_path / "ws").quarantine_accepted == {"ambulance_calls": 1.0}
    assert any("--accept-quarantine" in note for note in summary.notes)
    assert summary.sources["ambulance_calls"].quarantined == 40


def test_the_quarantine_limit_is_set_in_the_pipeline_config_or_per_source_in_the_mapping(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["gp_events"].append({"nhs_number": NHS[0], "event_date": "2023-02-30", "snomed_code": "1912002"})
    extract = write_extract(tmp_path / "extract", tables)  # 1 of 4 GP rows bad: 25%
    with pytest.raises(ExtractError, match="gp_events"):
        run_ingest(extract, tmp_path / "ws", progress=False)
    summary = run_ingest(extract, tmp_path / "ws", config=IngestConfig(max_quarantine_share=0.3), progress=False)
    assert summary.sources["gp_events"].quarantined == 1 and summary.quarantine_accepted == {}
    assert summary.sources["gp_events"].max_quarantine_share == 0.3
    config = tmp_path / "pipeline.yaml"
    config.write_text("ingest:\n  max_quarantine_share: 0.3\n")
    from falls_risk.config import load_pipeline_config

    assert load_pipeline_config(config).ingest.max_quarantine_share == 0.3
    assert PipelineConfig().ingest.max_quarantine_share == 0.05
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  gp_events:\n    max_quarantine_share: 0.25\n")
    summary = run_ingest(extract, tmp_path / "ws2", mapping=mapping, progress=False)
    assert summary.sources["gp_events"].max_quarantine_share == 0.25
    mapping.write_text("defaults:\n  max_quarantine_share: 0.2\n")
    with pytest.raises(ExtractError, match=r"above the 20\.0% allowed"):
        run_ingest(extract, tmp_path / "ws3", mapping=mapping, progress=False)


def test_rows_after_a_given_extract_date_do_not_count_towards_the_limit(extract_dir: Path, tmp_path: Path) -> None:
    summary = run_ingest(extract_dir, tmp_path / "ws", extract_date=dt.date(2024, 1, 31), progress=False)
    assert summary.sources["ed_attendances"].quarantined == 1  # of 2: a cut asked for, not a fault
    assert summary.quarantine_accepted == {}


def test_the_cli_exits_1_on_too_much_quarantine_and_0_with_accept(tmp_path: Path, capsys) -> None:
    from falls_risk.cli import main

    extract = wast_export(tmp_path / "extract")
    mapping = tmp_path / "wast.yaml"
    mapping.write_text(WRONG_MAPPING)
    args = ["ingest", str(extract), "--workspace", str(tmp_path / "ws"), "--mapping", str(mapping)]
    assert main(args) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "ambulance_calls (wast_calls.csv): 40 of 40 rows quarantined" in err and "Traceback" not in err
    assert main([*args, "--accept-quarantine"]) == 0


# --- 19.5: future dates ------------------------------------------------------------------------


def test_an_event_typed_as_2099_is_an_error_naming_file_row_and_column(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["ed_attendances"][1]["arrival_time"] = "2099-03-01 22:00:00"
    extract = write_extract(tmp_path / "extract", tables)
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    message = str(err.value)
    assert "2099-03-01" in message and "after today" in message
    assert "ed_attendances.csv row 2 (arrival_time 2099-03-01)" in message
    assert "--extract-date" in message
    # The way out the message gives: the real extract date quarantines that row.
    summary = run_ingest(extract, tmp_path / "ws", extract_date=dt.date(2024, 12, 31), progress=False)
    assert summary.sources["ed_attendances"].reasons == {"arrival_time after the extract date": 1}


def test_an_extract_date_in_the_future_is_refused(extract_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match=r"--extract-date 2099-01-01 is after today"):
        run_ingest(extract_dir, tmp_path / "ws", extract_date=dt.date(2099, 1, 1), progress=False)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(ExtractError, match="after today"):
        run_ingest(extract_dir, tmp_path / "ws", extract_date=tomorrow, progress=False)


def test_a_date_far_past_the_bulk_of_the_data_is_an_error_naming_its_rows(tmp_path: Path) -> None:
    tables = canonical_tables()
    start = dt.date(2023, 9, 15)  # to 2024-07-10, past every other source
    tables["gp_events"] = [
        {"nhs_number": NHS[i % 3], "event_date": str(start + dt.timedelta(days=i)), "snomed_code": "1912002"}
        for i in range(300)
    ]
    # Typed 2025 for 2024: not in the future, but more than a year past everything else.
    tables["gp_events"].append({"nhs_number": NHS[0], "event_date": "2025-10-28", "snomed_code": "1912002"})
    extract = write_extract(tmp_path / "extract", tables)
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    message = str(err.value)
    assert "1 row(s) are dated more than 92 days after the bulk of the data" in message
    assert "gp_events.csv row 301 (event_date 2025-10-28)" in message
    run_ingest(extract, tmp_path / "ws", config=IngestConfig(max_days_past_bulk=1000), progress=False)


# --- 19.5: impossible values are quarantined with their reasons -----------------------------------


def test_impossible_dates_of_birth_deaths_and_counts_are_quarantined(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["population"][0]["date_of_birth"] = "1899-12-31"
    tables["population"][1]["date_of_death"] = "1949-01-01"  # born 1950
    tables["social_care"].append(dict(tables["social_care"][0], record_id="R2", weekly_hours="inf"))
    tables["social_care"].append(dict(tables["social_care"][0], record_id="R3", weekly_hours="-3"))
    tables["deprivation"][1]["wimd_rank"] = "-5"
    extract = write_extract(tmp_path / "extract", tables)
    ws = tmp_path / "ws"
    summary = run_ingest(extract, ws, accept_quarantine=True, progress=False)
    reasons = {
        (source, r["row_number"]): r["reasons"]
        for source in ("population", "social_care", "deprivation")
        for r in pq.read_table(ws / "quarantine" / f"{source}.parquet").to_pylist()
    }
    assert reasons == {
        ("population", 1): "date_of_birth before 1900",
        ("population", 2): "date_of_death before date_of_birth",
        ("social_care", 2): "weekly_hours not a non-negative number",
        ("social_care", 3): "weekly_hours not a non-negative number",
        ("deprivation", 2): "wimd_rank not a non-negative whole number",
    }
    assert summary.sources["population"].accepted == 1


# --- 19.9 --------------------------------------------------------------------------------------------


def test_identifiable_outputs_are_private_folders_and_files(extract_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_ingest(extract_dir, ws, progress=False)
    for folder in ("ingested", "quarantine"):
        assert stat.S_IMODE((ws / folder).stat().st_mode) == 0o700, folder
        files = list((ws / folder).iterdir())
        assert files
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_population_file_with_a_header_only_is_refused(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    (extract / "population.csv").write_text(",".join(tables["population"][0]) + "\n")
    with pytest.raises(ExtractError, match=r"population\.csv: the population file has a header but no rows"):
        run_ingest(extract, tmp_path / "ws", progress=False)


def zoned_table(frame: pd.DataFrame) -> pa.Table:
    """A table whose time-zone-aware columns are Arrow ``timestamp[us, tz=UTC]``."""
    arrays = {}
    for col in frame.columns:
        series = frame[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            utc = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
            arrays[col] = pa.array(utc, type=pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        else:
            arrays[col] = pa.array(series.to_numpy(dtype=object, na_value=None), type=pa.string())
    return pa.table(arrays)


def test_time_zone_aware_parquet_dates_are_read_as_the_london_date_and_time(tmp_path: Path) -> None:
    tables = canonical_tables()
    as_csv = write_extract(tmp_path / "csv", tables)
    zoned = write_extract(tmp_path / "zoned", tables)
    calls = pd.DataFrame(tables["ambulance_calls"]).replace("", None)
    # Written by a warehouse in UTC: 09:40 in January is 09:40 in London, 22:59:59 UTC in June is 23:59:59 BST.
    calls["call_time"] = pd.to_datetime(["2024-01-05 09:40:00", "2024-06-30 22:59:59"]).tz_localize("UTC")
    # Dates of birth as London midnights in UTC (1940-02-03 00:00 GMT; a summer birthday would be 23:00 the day before).
    calls["date_of_birth"] = pd.to_datetime(["1940-02-03", None]).tz_localize("Europe/London").tz_convert("UTC")
    (zoned / "ambulance_calls.csv").unlink()
    pq.write_table(zoned_table(calls), zoned / "ambulance_calls.parquet")
    population = pd.DataFrame(tables["population"]).replace("", None)
    for col in ("date_of_birth", "registration_date", "deregistration_date", "date_of_death"):
        population[col] = pd.to_datetime(population[col]).dt.tz_localize("Europe/London").dt.tz_convert("UTC")
    (zoned / "population.csv").unlink()
    pq.write_table(zoned_table(population), zoned / "population.parquet")

    run_ingest(as_csv, tmp_path / "ws_csv", progress=False)
    summary = run_ingest(zoned, tmp_path / "ws_zoned", progress=False)
    for source in ("ambulance_calls", "population"):
        assert summary.sources[source].quarantined == 0, summary.sources[source].reasons
        assert pq.read_table(tmp_path / "ws_zoned" / "ingested" / f"{source}.parquet").to_pylist() == pq.read_table(
            tmp_path / "ws_csv" / "ingested" / f"{source}.parquet"
        ).to_pylist()
    # The population's 2024-06-01 death, a London midnight in summer, is 2024-05-31 23:00 UTC.
    assert population["date_of_death"].iloc[1] == pd.Timestamp("2024-05-31 23:00", tz="UTC")
