"""Writes are atomic: a failed write leaves the earlier output exactly as it was."""

import pandas as pd
import pytest

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


def test_write_json_round_trips(tmp_path):
    path = write_json({"b": 1, "a": [1, 2]}, tmp_path / "s.json")
    assert path.read_text().startswith("{\n")


def test_missing_stage_output_says_which_command_makes_it(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="falls-risk link --workspace"):
        ws.require(ws.linked_table("ed_attendances"), "link")
