"""Bad input: one clear error naming the file (exit 1, no traceback), never a partial ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from falls_risk.cli import main
from falls_risk.errors import ExtractError, MappingError
from falls_risk.ingest import load_mapping, run_ingest
from tests.ingest.ingest_fixtures import NHS, canonical_tables, write_csv, write_extract


def test_a_missing_required_column_names_the_file_the_missing_and_the_found_columns(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["social_care"] = [
        {k: v for k, v in r.items() if k not in ("client_id", "start_date")} for r in tables["social_care"]
    ]
    extract = write_extract(tmp_path / "extract", tables)
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    message = str(err.value)
    assert "social_care.csv" in message
    assert "missing required column(s) client_id, start_date" in message
    assert "columns found: record_id, forename, surname" in message
    assert "mapping" in message
    assert not (tmp_path / "ws" / "ingested").exists()


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["gp_events"] = [{"nhs_number": NHS[0], "snomed_code": "1912002"}]
    tables["deprivation"] = [{"lsoa": "W01000001", "wimd_rank": "3"}]
    extract = write_extract(tmp_path / "extract", tables)
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    assert "2 problems" in str(err.value)
    assert "gp_events.csv" in str(err.value) and "deprivation.csv" in str(err.value)


def test_a_latin1_csv_names_the_file_and_says_how_to_fix_it(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    write_csv(
        extract / "housing_adaptations.csv",
        tables["housing_adaptations"] * 3
        + [dict(tables["housing_adaptations"][0], application_id="H9", surname="Müller")],
        encoding="latin-1",
    )
    with pytest.raises(ExtractError) as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    message = str(err.value)
    assert "housing_adaptations.csv" in message
    assert "UTF-8" in message and "encoding" in message


def test_declaring_the_encoding_in_the_mapping_reads_it(tmp_path: Path) -> None:
    tables = canonical_tables()
    extract = write_extract(tmp_path / "extract", tables)
    write_csv(
        extract / "housing_adaptations.csv",
        [dict(tables["housing_adaptations"][0], surname="Müller")],
        encoding="latin-1",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  housing_adaptations:\n    encoding: latin-1\n")
    run_ingest(extract, tmp_path / "ws", mapping=mapping, progress=False)
    import pyarrow.parquet as pq

    row = pq.read_table(tmp_path / "ws" / "ingested" / "housing_adaptations.parquet").to_pylist()[0]
    assert row["surname_raw"] == "Müller" and row["surname"] == "muller"


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    (extract / "prescriptions.csv").unlink()
    (extract / "prescriptions.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ExtractError, match=r"prescriptions\.parquet: cannot be read as Parquet"):
        run_ingest(extract, tmp_path / "ws", progress=False)


def test_a_ragged_csv_names_the_line_without_showing_the_persons_record(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    with (extract / "gp_events.csv").open("a") as fh:
        fh.write(f"{NHS[0]},2023-01-01,1912002,surplus,fields\n")
    line = len((extract / "gp_events.csv").read_text().splitlines())
    with pytest.raises(ExtractError, match=rf"gp_events\.csv, line {line}: 5 field\(s\) where the header has 3") as err:
        run_ingest(extract, tmp_path / "ws", progress=False)
    assert NHS[0] not in str(err.value)  # messages reach terminals and logs: no identifiers


def test_an_empty_file_is_named(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    (extract / "deprivation.csv").write_text("")
    with pytest.raises(ExtractError, match=r"deprivation\.csv: the file is empty"):
        run_ingest(extract, tmp_path / "ws", progress=False)


def test_a_missing_population_says_it_is_required(tmp_path: Path) -> None:
    tables = canonical_tables()
    del tables["population"]
    extract = write_extract(tmp_path / "extract", tables)
    with pytest.raises(ExtractError, match="population source is required"):
        run_ingest(extract, tmp_path / "ws", progress=False)


def test_a_source_given_twice_is_refused(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    (extract / "gp_events.parquet").write_bytes(b"")
    with pytest.raises(ExtractError, match="gp_events is given twice"):
        run_ingest(extract, tmp_path / "ws", progress=False)


def test_a_missing_extract_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="extract folder not found"):
        run_ingest(tmp_path / "nope", tmp_path / "ws", progress=False)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("sources:\n  social_services:\n    rename: {A: b}\n", "unknown source 'social_services'"),
        (
            "sources:\n  social_care:\n    rename: {Client Ref: client_number}\n",
            "unknown column 'client_number'",
        ),
        ("sources:\n  social_care:\n    value_maps: {gender: {1: M}}\n", "unknown column 'gender'"),
        (
            "sources:\n  social_care:\n    date_formats: {weekly_hours: '%d'}\n",
            "not a date or datetime column",
        ),
        (
            "sources:\n  social_care:\n    renames: {A: b}\n",
            "sources.social_care.renames: unknown key 'renames' (did you mean 'rename'?)",
        ),
        ("sources:\n  social_car:\n    rename: {A: b}\n", "unknown source 'social_car' (did you mean 'social_care'?)"),
        ("sources:\n  social_care:\n    rename: {A: forname}\n", "unknown column 'forname' (did you mean 'forename'?)"),
        ("defaults:\n  date_fromat: '%d'\n", "defaults.date_fromat: unknown key 'date_fromat' (did you mean 'date_format'?)"),
        ("descripton: x\n", "unknown key 'descripton' (did you mean 'description'?)"),
        ("defaults:\n  value_maps: {sexx: {1: M}}\n", "defaults.value_maps: unknown column 'sexx' (did you mean 'sex'?)"),
        ("sources:\n  social_care:\n    delimiter: '||'\n", "a delimiter is one character"),
        ("sources:\n  ambulance_calls:\n    combine: {call_tim: [A, B]}\n", "did you mean 'call_time'?"),
        ("sources:\n  social_care:\n    encoding: klingon\n", "unknown encoding 'klingon'"),
        ("sources: [social_care]\n", "sources"),
        ("sources:\n  social_care:\n    rename: {A: forename, B: forename}\n", "both 'A' and 'B'"),
        ("sources: {social_care: {rename: {A: b}\n", "not valid YAML"),
    ],
)
def test_mapping_errors_name_the_problem(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml_text)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_a_mapping_renaming_a_column_the_file_lacks_names_it(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", canonical_tables())
    path = tmp_path / "mapping.yaml"
    path.write_text("sources:\n  social_care:\n    rename: {Client Ref: client_id}\n")
    with pytest.raises(MappingError, match=r"social_care\.csv: the mapping renames 'Client Ref'"):
        run_ingest(extract, tmp_path / "ws", mapping=path, progress=False)


def test_the_cli_prints_one_message_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = canonical_tables()
    del tables["population"]
    extract = write_extract(tmp_path / "extract", tables)
    code = main(["ingest", str(extract), "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 1
    assert "population source is required" in err
    assert "Traceback" not in err


def test_the_cli_ingests_and_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = canonical_tables()
    tables["gp_events"].append({"nhs_number": NHS[0], "event_date": "2023-02-30", "snomed_code": "1912002"})
    extract = write_extract(tmp_path / "extract", tables)
    args = ["ingest", str(extract), "--workspace", str(tmp_path / "ws"), "--extract-date", "2024-12-31"]
    assert main(args) == 1  # 1 of 4 GP rows is more than the 5% allowed
    err = capsys.readouterr().err
    assert "gp_events (gp_events.csv): 1 of 4 rows quarantined (25.0%, above the 5.0% allowed)" in " ".join(err.split())
    assert not (tmp_path / "ws" / "ingested").exists()
    code = main([*args, "--accept-quarantine"])
    err = capsys.readouterr().err
    assert code == 0
    assert "--accept-quarantine: went on although gp_events has 25.0%" in " ".join(err.split())
    assert "gp_events" in err and "unparseable date in" in err  # the table may wrap the reason
    assert "extract date 2024-12-31" in err
    assert (tmp_path / "ws" / "ingested" / "gp_events.parquet").exists()
