"""Exports as agencies send them (issue 14.3, 19.6): shared defaults, catch-alls, pipes and tabs,
a date and a time apart, yearly files, every sheet of a workbook, and no column lost to a repeated name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from falls_risk.errors import ExtractError
from falls_risk.ingest import load_mapping, run_ingest
from falls_risk.ingest.readers import sha256
from tests.ingest.ingest_fixtures import canonical_tables, write_csv, write_extract


def rows(ws: Path, folder: str, source: str) -> list[dict]:
    return pq.read_table(ws / folder / f"{source}.parquet").to_pylist()


def write_delimited(path: Path, records: list[dict[str, str]], delimiter: str) -> Path:
    lines = [delimiter.join(records[0])] + [delimiter.join(r.values()) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_defaults_are_shared_by_every_source_and_a_source_may_override_them(tmp_path: Path) -> None:
    tables = canonical_tables()
    for source in ("inpatient_spells", "ambulance_calls"):
        for row in tables[source]:
            row["sex"] = {"M": "1", "F": "2", "": ""}[row["sex"]]
            if row.get("date_of_birth"):
                row["date_of_birth"] = dt.date.fromisoformat(row["date_of_birth"]).strftime("%d/%m/%Y")
    tables["ambulance_calls"][1]["sex"] = "0"  # not stated: the catch-all makes it U
    extract = write_extract(tmp_path / "extract", tables)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "defaults:\n"
        "  date_format: '%d/%m/%Y'\n"
        "  value_maps:\n"
        "    sex: {1: M, 2: F, '*': U}\n"
        "sources:\n"
        "  population: {date_format: '%Y-%m-%d'}\n"
        "  ed_attendances: {date_format: '%Y-%m-%d'}\n"
        "  gp_events: {date_format: '%Y-%m-%d'}\n"
        "  prescriptions: {date_format: '%Y-%m-%d'}\n"
        "  social_care: {date_format: '%Y-%m-%d'}\n"
        "  police_incidents: {date_format: '%Y-%m-%d'}\n"
        "  housing_adaptations: {date_format: '%Y-%m-%d'}\n"
        "  ambulance_calls:\n"
        "    value_maps: {sex: {1: M}}\n"  # merged with the shared map, its own keys first
    )
    ws = tmp_path / "ws"
    summary = run_ingest(extract, ws, mapping=mapping, progress=False)
    assert summary.rows_quarantined == 0, {n: s.reasons for n, s in summary.sources.items() if s.reasons}
    spells = rows(ws, "ingested", "inpatient_spells")
    assert [r["sex"] for r in spells] == ["M", "F"]
    assert [r["date_of_birth"] for r in spells] == [dt.date(1940, 2, 3), dt.date(1950, 5, 6)]
    calls = rows(ws, "ingested", "ambulance_calls")
    assert [r["sex"] for r in calls] == ["M", "U"]


def test_a_catch_all_maps_every_other_value_and_leaves_missing_missing(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["ed_attendances"][0]["presenting_complaint"] = "Fall - mechanical"
    tables["ed_attendances"][1]["presenting_complaint"] = "Sore throat"
    extract = write_extract(tmp_path / "extract", tables)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "sources:\n  ed_attendances:\n    value_maps:\n"
        "      presenting_complaint: {Fall - mechanical: fall, '*': other}\n"
        "      sex: {'*': U}\n"
    )
    ws = tmp_path / "ws"
    run_ingest(extract, ws, mapping=mapping, progress=False)
    got = rows(ws, "ingested", "ed_attendances")
    assert [r["presenting_complaint"] for r in got] == ["fall", "other"]
    assert [r["sex"] for r in got] == ["U", "U"]
    assert load_mapping(mapping).for_source("ed_attendances").value_maps["sex"] == {"*": "U"}


@pytest.mark.parametrize(
    ("name", "delimiter", "mapping_text"),
    [
        ("ed_attendances.tsv", "\t", None),
        ("ed_attendances.txt", "|", None),  # the delimiter guessed from the header
        ("edds.txt", "|", "sources:\n  ed_attendances: {file: edds.txt, delimiter: pipe}\n"),
        ("edds.dat.txt", ";", "sources:\n  ed_attendances: {file: edds.dat.txt, delimiter: ';'}\n"),
    ],
)
def test_tab_and_pipe_delimited_files_read_as_the_csv_does(
    tmp_path: Path, name: str, delimiter: str, mapping_text: str | None
) -> None:
    tables = canonical_tables()
    tables["ed_attendances"][0]["forename"] = "Jo, Jose"  # a comma inside a field is no delimiter here
    as_csv = write_extract(tmp_path / "csv", tables)
    other = write_extract(tmp_path / "other", {k: v for k, v in tables.items() if k != "ed_attendances"})
    write_delimited(other / name, tables["ed_attendances"], delimiter)
    mapping = None
    if mapping_text:
        mapping = tmp_path / "m.yaml"
        mapping.write_text(mapping_text)
    run_ingest(as_csv, tmp_path / "ws_csv", progress=False)
    summary = run_ingest(other, tmp_path / "ws_other", mapping=mapping, progress=False)
    assert summary.sources["ed_attendances"].file == name
    assert rows(tmp_path / "ws_other", "ingested", "ed_attendances") == rows(
        tmp_path / "ws_csv", "ingested", "ed_attendances"
    )


def test_a_date_and_a_time_in_two_columns_make_one_datetime(tmp_path: Path) -> None:
    tables = canonical_tables()
    calls = tables.pop("ambulance_calls")
    extract = write_extract(tmp_path / "extract", tables)
    export = []
    for call in calls:
        when = dt.datetime.fromisoformat(call["call_time"].replace(" ", "T"))
        row = {k: v for k, v in call.items() if k != "call_time"}
        export.append({"Call Date": when.strftime("%d/%m/%Y"), "Call Time": when.strftime("%H:%M:%S"), **row})
    export.append(dict(export[0], call_id="A3", **{"Call Time": ""}))  # no time: not a midnight guess
    write_csv(extract / "ambulance_calls.csv", export)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "sources:\n  ambulance_calls:\n    combine: {call_time: [Call Date, Call Time]}\n"
        "    date_formats: {call_time: '%d/%m/%Y %H:%M:%S'}\n    max_quarantine_share: 0.5\n"
    )
    ws = tmp_path / "ws"
    summary = run_ingest(extract, ws, mapping=mapping, progress=False)
    got = rows(ws, "ingested", "ambulance_calls")
    assert [r["call_time"] for r in got] == [dt.datetime(2024, 1, 5, 9, 40), dt.datetime(2024, 6, 30, 23, 59, 59)]
    assert "Call Date" not in got[0] and "Call Time" not in got[0]
    assert summary.sources["ambulance_calls"].reasons == {"unparseable datetime in call_time": 1}
    mapping.write_text("sources:\n  ambulance_calls:\n    combine: {call_time: [Call Day, Call Time]}\n")
    with pytest.raises(Exception, match=r"combines 'Call Day' and 'Call Time' into call_time.*no column 'Call Day'"):
        run_ingest(extract, ws, mapping=mapping, progress=False)


def yearly_pedw(extract: Path) -> list[dict[str, str]]:
    spells = canonical_tables()["inpatient_spells"]
    more = [dict(spells[0], spell_id="S3", admission_date="2024-03-01", discharge_date="2024-03-02")]
    write_csv(extract / "PEDW_2023.csv", spells)
    write_csv(extract / "PEDW_2024.csv", more)
    return spells + more


@pytest.mark.parametrize("file_key", ["'PEDW_*.csv'", "[PEDW_2023.csv, PEDW_2024.csv]"])
def test_several_yearly_files_make_one_source(tmp_path: Path, file_key: str) -> None:
    tables = canonical_tables()
    del tables["inpatient_spells"]
    extract = write_extract(tmp_path / "extract", tables)
    expected = yearly_pedw(extract)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(f"sources:\n  inpatient_spells:\n    file: {file_key}\n")
    ws = tmp_path / "ws"
    summary = run_ingest(extract, ws, mapping=mapping, progress=False)
    spells = summary.sources["inpatient_spells"]
    assert spells.file == "PEDW_2023.csv, PEDW_2024.csv" and spells.read == 3
    assert [r["spell_id"] for r in rows(ws, "ingested", "inpatient_spells")] == [s["spell_id"] for s in expected]
    assert [r["row_number"] for r in rows(ws, "ingested", "inpatient_spells")] == [1, 2, 3]
    hashes = summary.input_hashes()
    assert hashes["PEDW_2023.csv"] == sha256(extract / "PEDW_2023.csv")
    assert hashes["PEDW_2024.csv"] == sha256(extract / "PEDW_2024.csv")
    assert any("rows 3-3 from PEDW_2024.csv" in note for note in summary.notes)
    assert summary.ignored_files == []


def test_yearly_files_with_different_columns_are_refused_naming_them(tmp_path: Path) -> None:
    tables = canonical_tables()
    del tables["inpatient_spells"]
    extract = write_extract(tmp_path / "extract", tables)
    yearly_pedw(extract)
    spells = [dict(r, ward="A1") for r in canonical_tables()["inpatient_spells"]]
    write_csv(extract / "PEDW_2024.csv", spells)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  inpatient_spells:\n    file: 'PEDW_*.csv'\n")
    with pytest.raises(ExtractError, match=r"PEDW_2024\.csv does not have the columns of PEDW_2023\.csv \(extra: ward"):
        run_ingest(extract, tmp_path / "ws", mapping=mapping, progress=False)


def test_a_problem_in_the_second_yearly_file_is_located_in_that_file(tmp_path: Path) -> None:
    tables = canonical_tables()
    del tables["inpatient_spells"]
    extract = write_extract(tmp_path / "extract", tables)
    spells = canonical_tables()["inpatient_spells"]
    write_csv(extract / "PEDW_2023.csv", spells)
    write_csv(extract / "PEDW_2024.csv", [dict(spells[0], spell_id=f"T{i}", admission_method="x") for i in range(3)])
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  inpatient_spells:\n    file: 'PEDW_*.csv'\n")
    with pytest.raises(ExtractError, match=r"e\.g\. PEDW_2024\.csv row 1, column admission_method"):
        run_ingest(extract, tmp_path / "ws", mapping=mapping, progress=False)


# --- 19.6: every sheet, no repeated column -----------------------------------------------------


def calls_frame() -> pd.DataFrame:
    return pd.DataFrame(canonical_tables()["ambulance_calls"]).replace("", None)


def test_every_sheet_with_the_header_is_read_and_other_sheets_are_noted(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", {k: v for k, v in tables.items() if k != "ambulance_calls"})
    frame = calls_frame()
    second = frame.assign(call_id=["A3", "A4"])
    with pd.ExcelWriter(extract / "ambulance_calls.xlsx") as writer:
        pd.DataFrame({"About": ["WAST extract, two halves"]}).to_excel(writer, sheet_name="Read me", index=False)
        frame.to_excel(writer, sheet_name="Jan-Jun", index=False)
        second.to_excel(writer, sheet_name="Jul-Dec", index=False)
    ws = tmp_path / "ws"
    summary = run_ingest(extract, ws, progress=False)
    calls = summary.sources["ambulance_calls"]
    assert (calls.read, calls.accepted) == (4, 4)  # not 2 (the first data sheet) nor 0 (the cover)
    assert [r["call_id"] for r in rows(ws, "ingested", "ambulance_calls")] == ["A1", "A2", "A3", "A4"]
    assert any("'Read me'" in n and "skipped" in n for n in summary.notes)
    assert any("rows 3-4 from ambulance_calls.xlsx sheet 'Jul-Dec'" in n for n in summary.notes)


def test_sheets_that_look_alike_with_different_headers_are_refused_naming_them(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", {k: v for k, v in tables.items() if k != "ambulance_calls"})
    with pd.ExcelWriter(extract / "ambulance_calls.xlsx") as writer:
        calls_frame().to_excel(writer, sheet_name="2023", index=False)
        calls_frame().assign(crew="X").to_excel(writer, sheet_name="2024", index=False)
    with pytest.raises(ExtractError, match=r"sheets '2023', '2024' all look like this source but their headers differ"):
        run_ingest(extract, tmp_path / "ws", progress=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  ambulance_calls: {sheet: '2023'}\n")
    assert run_ingest(extract, tmp_path / "ws", mapping=mapping, progress=False).sources["ambulance_calls"].read == 2


def test_a_repeated_column_name_is_refused_in_csv_excel_and_parquet(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    header = list(tables["ambulance_calls"][0])
    lines = [",".join([*header, "postcode"])] + [",".join([*r.values(), "CF99 9ZZ"]) for r in tables["ambulance_calls"]]
    (extract / "ambulance_calls.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ExtractError, match=r"ambulance_calls\.csv: column\(s\) postcode appear more than once"):
        run_ingest(extract, tmp_path / "ws", progress=False)

    (extract / "ambulance_calls.csv").unlink()
    frame = calls_frame()
    doubled = pd.concat([frame, frame[["postcode"]]], axis=1)
    doubled.to_excel(extract / "ambulance_calls.xlsx", index=False)
    with pytest.raises(ExtractError, match=r"ambulance_calls\.xlsx, sheet 'Sheet1': column\(s\) postcode appear more"):
        run_ingest(extract, tmp_path / "ws", progress=False)

    (extract / "ambulance_calls.xlsx").unlink()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("postcode", table.column("postcode"))
    pq.write_table(table, extract / "ambulance_calls.parquet")
    with pytest.raises(ExtractError, match=r"ambulance_calls\.parquet: column\(s\) postcode appear more than once"):
        run_ingest(extract, tmp_path / "ws", progress=False)
