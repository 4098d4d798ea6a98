"""Writes are atomic: a failed write leaves the earlier output exactly as it was."""

import json

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
    data = {"b": 1, "a": [1, 2], "when": "2026-03-01", "name": "O'Brien", "nested": {"x": None, "y": 1.5}}
    path = write_json(data, tmp_path / "s.json")
    assert json.loads(path.read_text(encoding="utf-8")) == data  # read back: the same data
    assert path.read_text().startswith("{\n")  # indented for a person reading it
    write_json({"replaced": True}, path)
    assert json.loads(path.read_text()) == {"replaced": True}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no staging file left beside it


def test_missing_stage_output_says_which_command_makes_it(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="falls-risk link --workspace"):
        LINKED.require(ws, source="ed_attendances")
    with pytest.raises(WorkspaceError, match="falls-risk ingest --workspace"):
        INGEST_SUMMARY.load(ws)


def test_a_replaced_folder_is_swapped_in_one_step(tmp_path, monkeypatch):
    """Issue 19.8: a kill between 'old folder out' and 'new folder in' once deleted a month. The
    folders are exchanged atomically, so no rename of the old one happens at all."""
    target = tmp_path / "2026-03"
    target.mkdir()
    (target / "scores.parquet").write_text("old")
    import os

    real_replace, calls = os.replace, []

    def replace_then_die(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # between the two renames of the old way
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_die)
    with atomic_path(target) as staged:
        staged.mkdir()
        (staged / "scores.parquet").write_text("new")
    assert (target / "scores.parquet").read_text() == "new"
    assert calls == []  # one renameat2(RENAME_EXCHANGE), no os.replace
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-03"]


def test_exchange_paths_swaps_two_folders(tmp_path):
    from falls_risk.workspace import exchange_paths

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from_a").touch()
    (b / "from_b").touch()
    assert exchange_paths(a, b)
    assert [p.name for p in a.iterdir()] == ["from_b"] and [p.name for p in b.iterdir()] == ["from_a"]
    with pytest.raises(FileNotFoundError):
        exchange_paths(a, tmp_path / "missing")
