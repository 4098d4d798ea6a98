"""generate_world: deterministic for a seed, atomic, and clear about bad arguments."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from falls_risk.cli import main
from falls_risk.errors import FallsRiskError
from falls_risk.synth import generate_world

START, END = date(2021, 1, 1), date(2022, 12, 31)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _world(out: Path, seed: int, people: int = 400) -> dict:
    return generate_world(out, people=people, seed=seed, start=START, end=END, progress=False)


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a = _world(tmp_path / "a", seed=11)
    b = _world(tmp_path / "b", seed=11)
    c = _world(tmp_path / "c", seed=12)
    assert a["rows"] == b["rows"]
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a") != _digests(tmp_path / "c")
    assert c["rows"]["population"] == 400


def test_summary_counts_rows_of_every_source(tmp_path):
    summary = _world(tmp_path / "w", seed=3, people=300)
    extract = tmp_path / "w" / "extract"
    assert summary["rows"]["population"] == 300
    assert set(summary["rows"]) == {p.stem for p in extract.iterdir()}
    lines = (extract / "ed_attendances.csv").read_text(encoding="utf-8").count("\n") - 1
    assert summary["rows"]["ed_attendances"] == lines


def test_a_failed_run_leaves_the_earlier_world_intact(tmp_path, monkeypatch):
    out = tmp_path / "w"
    _world(out, seed=5, people=200)
    before = _digests(out)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash while drawing housing records")

    monkeypatch.setattr("falls_risk.synth.records.build_housing", broken)
    with pytest.raises(RuntimeError):
        _world(out, seed=6, people=200)
    assert _digests(out) == before


def test_a_run_that_fails_while_writing_the_truth_leaves_extract_and_truth_as_a_pair(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    out = tmp_path / "w"
    _world(out, seed=5, people=200)
    before = _digests(out)
    real_write = pq.write_table

    def failing_write(table, where, *args, **kwargs):
        if str(where).endswith("monthly_hazard.parquet"):
            raise OSError("disk full")
        return real_write(table, where, *args, **kwargs)

    monkeypatch.setattr("falls_risk.synth.world.pq.write_table", failing_write)
    with pytest.raises(OSError):
        _world(out, seed=6, people=200)
    assert _digests(out) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": 5}, "people"),
        ({"start": date(2022, 1, 1), "end": date(2021, 1, 1)}, "end date"),
    ],
)
def test_bad_arguments_raise_a_clear_error(tmp_path, kwargs, message):
    args = {"people": 100, "seed": 1, "start": START, "end": END, "progress": False} | kwargs
    with pytest.raises(FallsRiskError, match=message):
        generate_world(tmp_path / "w", **args)


def test_cli_writes_a_world(tmp_path):
    out = tmp_path / "cli-world"
    code = main(
        [
            "synth",
            "--out",
            str(out),
            "--people",
            "150",
            "--seed",
            "2",
            "--start",
            "2022-01-01",
            "--end",
            "2022-12-31",
        ]
    )
    assert code == 0
    assert (out / "extract" / "population.csv").exists()
    assert (out / "truth" / "monthly_hazard.parquet").exists()
