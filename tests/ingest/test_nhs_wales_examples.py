"""The example mappings for the NHS Wales datasets read the example files in their usual shapes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from falls_risk.cli import main
from falls_risk.errors import MappingError
from falls_risk.ingest import run_ingest
from tests.ingest.ingest_fixtures import NHS, canonical_tables, write_csv

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "examples" / "mappings"
FILES = ROOT / "examples" / "extracts" / "nhs_wales"


@pytest.fixture
def wales_extract(tmp_path: Path) -> Path:
    extract = tmp_path / "extract"
    shutil.copytree(FILES, extract)
    write_csv(extract / "population.csv", canonical_tables()["population"])
    return extract


def rows(ws: Path, source: str) -> list[dict]:
    return pq.read_table(ws / "ingested" / f"{source}.parquet").to_pylist()


def test_pedw_yearly_files_with_admission_method_codes(wales_extract: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    summary = run_ingest(wales_extract, ws, mapping=MAPPINGS / "pedw.yaml", progress=False)
    spells = summary.sources["inpatient_spells"]
    assert (spells.file, spells.read, spells.quarantined) == ("PEDW_2023.csv, PEDW_2024.csv", 5, 0)
    got = rows(ws, "inpatient_spells")
    assert [r["admission_method"] for r in got] == ["emergency", "elective", "emergency", "emergency", "other"]
    assert got[0]["admission_date"] == dt.date(2023, 1, 5) and got[0]["diagnoses"] == "S720;W010"
    assert [r["nhs_number"] for r in got[:3]] == [NHS[0], NHS[1], None]  # "400 000 0012" and NULL
    assert [r["sex"] for r in got] == ["M", "F", "M", "M", "M"]
    assert got[0]["PROV_UNIT_CD"] == "7A4BV"  # an extra column kept as it came


def test_edds_date_and_time_apart_tab_delimited(wales_extract: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    summary = run_ingest(wales_extract, ws, mapping=MAPPINGS / "edds.yaml", progress=False)
    assert summary.sources["ed_attendances"].quarantined == 0, summary.sources["ed_attendances"].reasons
    got = rows(ws, "ed_attendances")
    assert [r["arrival_time"] for r in got] == [
        dt.datetime(2023, 1, 5, 8, 55), dt.datetime(2024, 3, 1, 22, 0), dt.datetime(2024, 2, 20, 13, 5)
    ]
    assert [r["arrival_mode"] for r in got] == ["ambulance", "self", "other"]
    assert [r["presenting_complaint"] for r in got] == ["fall", "breathing", "other"]  # RASH: the catch-all
    assert [r["disposal"] for r in got] == ["admitted", "discharged", "left"]  # "01" read as 01, not 1
    assert [r["sex"] for r in got] == ["M", "F", "U"]


def test_wast_pipe_delimited_calls(wales_extract: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    summary = run_ingest(wales_extract, ws, mapping=MAPPINGS / "wast.yaml", progress=False)
    assert summary.sources["ambulance_calls"].quarantined == 0, summary.sources["ambulance_calls"].reasons
    got = rows(ws, "ambulance_calls")
    assert [r["call_time"] for r in got] == [
        dt.datetime(2023, 1, 5, 8, 31, 10), dt.datetime(2024, 6, 30, 23, 59), dt.datetime(2024, 7, 1, 7, 12)
    ]
    assert [r["chief_complaint"] for r in got] == ["fall", "fall", "other"]
    assert [r["conveyed"] for r in got] == [True, False, False]
    assert [r["sex"] for r in got] == ["M", None, "M"] and got[1]["nhs_number"] is None  # "Not Known": missing
    assert got[0]["surname"] == "o'neill"


def test_the_three_mappings_together_on_the_command_line(wales_extract: Path, tmp_path: Path, capsys) -> None:
    args = ["ingest", str(wales_extract), "--workspace", str(tmp_path / "ws")]
    for name in ("pedw", "edds", "wast"):
        args += ["--mapping", str(MAPPINGS / f"{name}.yaml")]
    assert main(args) == 0, capsys.readouterr().err
    for source, n in (("inpatient_spells", 5), ("ed_attendances", 3), ("ambulance_calls", 3)):
        assert len(rows(tmp_path / "ws", source)) == n


def test_a_source_mapped_in_two_files_is_refused(wales_extract: Path, tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"sources\.inpatient_spells is also mapped in .*pedw\.yaml"):
        run_ingest(wales_extract, tmp_path / "ws", mapping=[MAPPINGS / "pedw.yaml", MAPPINGS / "pedw.yaml"],
                   progress=False)


def test_the_council_example_mapping_still_loads() -> None:
    from falls_risk.ingest import load_mapping

    for path in MAPPINGS.glob("*.yaml"):
        assert load_mapping(path).sources, path
