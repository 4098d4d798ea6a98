"""A small synthetic world through ingest (the shared session fixtures; never modified here)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from falls_risk.contract import SOURCES
from falls_risk.identity import normalise_nhs_number
from falls_risk.ingest import run_ingest

KNOWN_REASON = re.compile(
    r"^(missing \w+|duplicate \w+|unparseable (date|datetime) in \w+|\w+ not one of [\w/]+|"
    r"invalid (ICD-10|SNOMED CT|BNF) code in \w+|\w+ not true/false|\w+ not a (whole|non-negative) number|"
    r"date_of_birth after \w+|\w+ before \w+|\w+ after the extract date)$"
)


def read_extract(extract: Path, source: str) -> pd.DataFrame:
    """The source file as text, read independently of ingest."""
    path = next(p for p in extract.iterdir() if p.stem == source)
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas().astype("str").replace({"None": None, "NaT": None, "nan": None})
    return pd.read_csv(path, dtype="str", keep_default_na=False).replace({"": None})


@pytest.fixture(scope="module")
def summary(ingested_workspace: Path) -> dict:
    return json.loads((ingested_workspace / "ingest_summary.json").read_text())


def test_every_source_of_the_world_is_ingested_and_accounted_for(
    world_dir: Path, ingested_workspace: Path, summary: dict
) -> None:
    assert summary["absent_sources"] == []
    assert set(summary["sources"]) == set(SOURCES)
    for source, s in summary["sources"].items():
        raw = read_extract(world_dir / "extract", source)
        accepted = pq.read_table(
            ingested_workspace / "ingested" / f"{source}.parquet", columns=["row_number"]
        )
        rejected = pq.read_table(ingested_workspace / "quarantine" / f"{source}.parquet")
        assert s["read"] == len(raw) == s["accepted"] + s["quarantined"], source
        assert (accepted.num_rows, rejected.num_rows) == (s["accepted"], s["quarantined"]), source
        numbers = sorted(
            accepted.column("row_number").to_pylist() + rejected.column("row_number").to_pylist()
        )
        assert numbers == list(range(1, len(raw) + 1)), source
        for reasons in rejected.column("reasons").to_pylist():
            assert reasons and all(KNOWN_REASON.match(r) for r in reasons.split("; ")), reasons
        assert s["quarantined"] <= 0.01 * s["read"] + 2, (source, s["reasons"])


def test_planted_duplicates_and_bad_dates_are_exactly_the_quarantined_ones(
    world_dir: Path, summary: dict
) -> None:
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?$")
    for name, source in SOURCES.items():
        raw = read_extract(world_dir / "extract", name)
        reasons = summary["sources"][name]["reasons"]
        if source.id_column and source.id_unique:
            ids = raw[source.id_column].dropna()
            assert reasons.get(f"duplicate {source.id_column}", 0) == int(ids.duplicated().sum()), name
        if source.event_date_column:
            values = raw[source.event_date_column].dropna()
            malformed = int((~values.str.match(iso)).sum())
            kind = "datetime" if source.column(source.event_date_column).kind.value == "datetime" else "date"
            found = reasons.get(f"unparseable {kind} in {source.event_date_column}", 0)
            assert found >= malformed, name


def test_row_numbers_point_at_the_records_the_truth_describes(
    world_dir: Path, ingested_workspace: Path
) -> None:
    truth = pd.read_parquet(world_dir / "truth" / "record_person.parquet")
    for name in ("population", "inpatient_spells", "ambulance_calls", "social_care"):
        id_column = SOURCES[name].id_column
        ingested = pd.read_parquet(
            ingested_workspace / "ingested" / f"{name}.parquet", columns=["row_number", id_column]
        )
        if name == "population":
            ingested = ingested.dropna()
        expected = truth.loc[truth["source"] == name, ["row_number", "record_id"]]
        expected = expected.rename(columns={"record_id": "true_id"})
        merged = ingested.merge(expected, on="row_number", validate="one_to_one")
        assert len(merged) == len(ingested)
        assert (merged[id_column] == merged["true_id"]).all(), name


def test_valid_nhs_numbers_are_kept_and_invalid_ones_flagged(
    world_dir: Path, ingested_workspace: Path
) -> None:
    truth = pd.read_parquet(world_dir / "truth" / "record_person.parquet")
    for name in ("ed_attendances", "gp_events", "prescriptions"):
        ingested = pd.read_parquet(
            ingested_workspace / "ingested" / f"{name}.parquet",
            columns=["row_number", "nhs_number", "nhs_number_invalid"],
        )
        assert ingested.loc[ingested["nhs_number_invalid"], "nhs_number"].isna().all()
        present = ingested.dropna(subset=["nhs_number"])
        assert present["nhs_number"].map(normalise_nhs_number).eq(present["nhs_number"]).all()
        merged = present.merge(truth[truth["source"] == name], on="row_number", suffixes=("", "_true"))
        # A miskeyed number can pass the check by chance (about 1 in 11): then it is someone else's.
        assert (merged["nhs_number"] == merged["nhs_number_true"]).mean() > 0.98, name
        assert ingested["nhs_number_invalid"].any(), name  # the world has dirt; ingest must see it


def test_reingesting_the_world_replaces_outputs_with_identical_tables(
    world_dir: Path, ingested_workspace: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(ingested_workspace, ws)
    run_ingest(world_dir / "extract", ws, progress=False)
    for source in ("population", "ed_attendances"):
        again = pq.read_table(ws / "ingested" / f"{source}.parquet")
        first = pq.read_table(ingested_workspace / "ingested" / f"{source}.parquet")
        assert again.equals(first), source
