"""Writes are atomic: a failed write leaves the earlier output exactly as it was."""

import pandas as pd
import pytest

from falls_risk.catalog import INGEST_SUMMARY, LINKED
from falls_risk.errors import WorkspaceError
from falls_risk.workspace import Workspace, atomic_path, write_json, write_parquet


def test_failed_file_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "table.parquet"
    write_parquet(pd.DataFrame({"a": [1, 2]}), target)
    with pytest.raises(RuntimeError), atomic_path(target) as staged:
        staged.write_bytes(b"partial")
        raise RuntimeError("interrupted")
    assert pd.read_parquet(target)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "out"
    with atomic_path(target) as staged:
        staged.mkdir()
        (staged / "old.txt").write_text("old")
    with atomic_path(target) as staged:
        staged.mkdir()
        (staged / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_can_be_staged_in_a_working_folder_that_a_later_run_sweeps(tmp_path):
    # Scoring stages its named outputs in its own working folder, so a run killed mid-write leaves
    # them only where the next run's clean-up looks (tests/scoring/test_work_folder.py).
    work = tmp_path / ".work" / "2026-03"
    work.mkdir(parents=True)
    with atomic_path(tmp_path / "2026-03", staging_dir=work) as staged:
        assert staged.parent.parent == work
        staged.mkdir()
        (staged / "risk_list.csv").write_text("names")
    assert (tmp_path / "2026-03" / "risk_list.csv").read_text() == "names"
    assert list(work.iterdir()) == []  # nothing staged is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [".work", "2026-03"]  # and nothing beside the target


def test_write_json_round_trips(tmp_path):
    path = write_json({"b": 1, "a": [1, 2]}, tmp_path / "s.json")
    assert path.read_text().startswith("{\n")


def test_missing_stage_output_says_which_command_makes_it(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="falls-risk link --workspace"):
        LINKED.require(ws, source="ed_attendances")
    with pytest.raises(WorkspaceError, match="falls-risk ingest --workspace"):
        INGEST_SUMMARY.load(ws)
