"""`falls-risk inspect`: profile an agency folder and draft its mapping (issue 14.3)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from falls_risk.cli import main
from falls_risk.ingest import load_mapping, run_ingest
from falls_risk.ingest.inspect import inspect_extract, profile_extract
from tests.ingest.ingest_fixtures import NHS, canonical_tables, write_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "extracts" / "nhs_wales"
SURNAMES = ["Prydderch", "Vaughan-Lloyd", "Ellis"]


def wast_rows(n: int = 24) -> list[dict[str, str]]:
    complaints = ["Falls", "Breathing Problems", "Chest Pain", "Sick Person"]
    return [
        {
            "Incident Number": f"W{i:04d}",
            "Call Date": (dt.date(2024, 1, 1) + dt.timedelta(days=i)).strftime("%d/%m/%Y"),
            "Call Time": f"{i % 24:02d}:{(7 * i) % 60:02d}",
            "NHS No": NHS[i % 3],
            "Patient Surname": SURNAMES[i % 3],
            "Patient Sex": ["Male", "Female"][i % 2],
            "Chief Complaint": complaints[i % 4],
            "Conveyed": "YN"[i % 2],
        }
        for i in range(n)
    ]


def agency_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rows = wast_rows()
    with (folder / "wast_calls.txt").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="|")
        writer.writeheader()
        writer.writerows(rows)
    care = [{"Client Ref": f"C{i}", "First Name": "Zoë", "Service": ["Home Care", "Telecare"][i % 2],
             "Start Date": f"{1 + i:02d}/06/2023"} for i in range(6)]
    with (folder / "wccis.csv").open("w", encoding="cp1252", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(care[0]))
        writer.writeheader()
        writer.writerows(care)
    pd.DataFrame(canonical_tables()["deprivation"]).astype({"wimd_rank": "int64"}).to_parquet(
        folder / "wimd.parquet", index=False
    )
    with pd.ExcelWriter(folder / "dfg.xlsx") as writer:
        pd.DataFrame({"About": ["DFG extract"]}).to_excel(writer, sheet_name="Cover", index=False)
        pd.DataFrame({"Application Ref": ["H1", "H2"], "Date Received": [dt.datetime(2022, 1, 1)] * 2}).to_excel(
            writer, sheet_name="Grants", index=False
        )
    (folder / "spec.pdf").write_bytes(b"%PDF-1.4")
    return folder


def test_each_file_is_profiled_encoding_delimiter_columns_values_and_date_formats(tmp_path: Path) -> None:
    profile = profile_extract(agency_folder(tmp_path / "agency"))
    files = {f.name: f for f in profile.files}
    assert set(files) == {"wast_calls.txt", "wccis.csv", "wimd.parquet", "dfg.xlsx [Cover]", "dfg.xlsx [Grants]"}
    assert profile.skipped == ["spec.pdf"]
    wast = files["wast_calls.txt"]
    assert (wast.encoding, wast.delimiter, wast.rows) == ("utf-8", "|", 24)
    assert wast.header == list(wast_rows()[0])
    cols = {c.name: c for c in wast.columns}
    assert cols["Call Date"].date_formats[0] == "%d/%m/%Y" and "%m/%d/%Y" not in cols["Call Date"].date_formats
    assert cols["Call Time"].time_formats == ["%H:%M"]
    assert cols["Chief Complaint"].values == ["Breathing Problems", "Chest Pain", "Falls", "Sick Person"]
    assert cols["Conveyed"].values == ["N", "Y"] and cols["Conveyed"].distinct == 2
    assert cols["Incident Number"].values == []  # every value once: an id, not a code
    care = files["wccis.csv"]
    assert care.encoding == "cp1252" and care.delimiter == ","
    assert {c.name: c.filled for c in care.columns}["Service"] == 6
    grants = {c.name: c for c in files["dfg.xlsx [Grants]"].columns}
    assert grants["Date Received"].date_formats == ["%Y-%m-%d"]  # a real Excel date cell


def test_identifier_values_are_never_shown(tmp_path: Path, capsys) -> None:
    folder = agency_folder(tmp_path / "agency")
    profile = profile_extract(folder)
    wast = {c.name: c for c in next(f for f in profile.files if f.name == "wast_calls.txt").columns}
    assert wast["Patient Surname"].values == [] and wast["NHS No"].values == []
    assert main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().err
    assert "Chest Pain" in out and "looks like ambulance_calls" in out
    for secret in (*SURNAMES, NHS[0], "Zoë"):
        assert secret not in out


def test_the_draft_mapping_reads_the_export_once_its_todos_are_filled(tmp_path: Path) -> None:
    folder = agency_folder(tmp_path / "agency")
    draft_path = tmp_path / "draft.yaml"
    inspect_extract(folder, out=draft_path, show=False)
    text = draft_path.read_text()
    assert 'file: "wast_calls.txt"' in text and 'delimiter: "|"' in text
    assert 'call_time: ["Call Date", "Call Time"]' in text and 'call_time: "%d/%m/%Y %H:%M"' in text
    assert '"Patient Surname": surname' in text and '"Incident Number": call_id' in text
    assert '"Falls": "fall"' in text and '"Y": "true"' in text and '"Female": "F"' in text
    assert '"Sick Person": "TODO"' in text  # a person decides
    assert "encoding: cp1252" in text and "social_care" in text
    assert "# TODO: spec.pdf" not in text

    finished = tmp_path / "mapping.yaml"
    finished.write_text(text.replace('"TODO"', '"other"'))
    mapping = load_mapping(finished)
    extract = tmp_path / "extract"
    extract.mkdir()
    shutil.copy(folder / "wast_calls.txt", extract)
    write_csv(extract / "population.csv", canonical_tables()["population"])
    summary = run_ingest(extract, tmp_path / "ws", mapping=mapping, progress=False)
    calls = summary.sources["ambulance_calls"]
    assert (calls.read, calls.quarantined) == (24, 0), calls.reasons
    got = pq.read_table(tmp_path / "ws" / "ingested" / "ambulance_calls.parquet").to_pylist()
    assert got[1]["call_time"] == dt.datetime(2024, 1, 2, 1, 7)
    assert [r["chief_complaint"] for r in got[:4]] == ["fall", "breathing", "chest_pain", "other"]
    assert [r["conveyed"] for r in got[:2]] == [True, False] and got[1]["sex"] == "F"


def test_yearly_files_are_drafted_as_one_source_with_a_glob(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "pedw"
    folder.mkdir()
    for name in ("PEDW_2023.csv", "PEDW_2024.csv"):
        shutil.copy(EXAMPLES / name, folder)
    out = tmp_path / "draft.yaml"
    assert main(["inspect", str(folder), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("inpatient_spells:") == 1 and 'file: "PEDW_*.csv"' in text
    assert '"ADMIS_MTHD_CD": admission_method' in text and '"GNDR_CD": sex' in text
    assert 'admission_date: "%d/%m/%Y"' in text
    assert 'null_values: ["NULL"]' in text  # PEDW_2023.csv spells a missing NHS number NULL
    assert "Wrote a draft mapping" in capsys.readouterr().err
    assert load_mapping(out).for_source("inpatient_spells").file == ("PEDW_*.csv",)


def test_pedw_admission_method_codes_are_drafted_by_their_first_digit(tmp_path: Path) -> None:
    folder = tmp_path / "pedw"
    folder.mkdir()
    spells = [
        {"SPELL_NO": f"S{i}", "ADMIDATE": "2024-01-05", "DISDATE": "2024-01-06", "ADMIMETH": code, "DIAG": "I10"}
        for i, code in enumerate(["21", "21", "11", "11", "2A", "2A", "81", "81"])
    ]
    write_csv(folder / "pedw_spells.csv", spells)
    out = tmp_path / "draft.yaml"
    inspect_extract(folder, out=out, show=False)
    maps = load_mapping(out).for_source("inpatient_spells").value_maps["admission_method"]
    assert maps == {"11": "elective", "21": "emergency", "2A": "emergency", "81": "other"}


def test_spellings_of_missing_are_set_aside_so_a_dates_format_is_still_found(tmp_path: Path) -> None:
    folder = tmp_path / "agency"
    folder.mkdir()
    write_csv(folder / "dfg_grants.csv", [
        {"Application Ref": f"H{i}", "Date Completed": "N/K" if i % 3 == 0 else f"{1 + i:02d}/03/2022",
         "Works": ["Stairlift", "Ramp"][i % 2]}
        for i in range(9)
    ])
    profile = profile_extract(folder)
    completed = {c.name: c for c in profile.files[0].columns}["Date Completed"]
    assert completed.null_spellings == ["N/K"] and completed.date_formats[0] == "%d/%m/%Y"
    assert completed.filled == 6
    out = tmp_path / "draft.yaml"
    inspect_extract(folder, out=out, show=False)
    housing = load_mapping(out).for_source("housing_adaptations")
    assert housing.null_values == ("N/K",)
    assert housing.date_formats["completed_date"] == ("%d/%m/%Y",)
    assert housing.rename["Application Ref"] == "application_id"
