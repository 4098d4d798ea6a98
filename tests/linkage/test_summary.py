"""The linkage record: frozen, written once by run_linkage, read back as it was written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from falls_risk.errors import WorkspaceError
from falls_risk.linkage.summary import LinkageSummary
from falls_risk.workspace import Workspace


def a_summary(tmp_path: Path) -> LinkageSummary:
    return LinkageSummary(
        workspace=tmp_path,
        model_path=tmp_path / "linkage" / "model.json",
        trained=True,
        threshold=0.9,
        spine_people=540,
        stage2_identities=120,
        spine_rows_without_nhs_number=2,
        sources={"social_care": {"rows": 10, "nhs_number": 0, "probabilistic": 8, "unlinked": 2}},
        in_spine_estimates={"*": 0.93},
        seconds=1.5,
        timings={"stage 1 (NHS number)": 0.2},
    )


def test_written_summary_reads_back_equal(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    summary = a_summary(tmp_path)
    path = summary.write(ws)
    assert path == tmp_path / "linkage" / "summary.json"
    assert LinkageSummary.read(ws) == summary
    assert summary.link_rate("social_care") == 0.8


def test_nothing_changes_a_summary_after_it_is_made(tmp_path: Path) -> None:
    summary = a_summary(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.seconds = 2.0  # type: ignore[misc]


def test_a_missing_or_foreign_summary_says_what_to_run(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="Run `falls-risk link"):
        LinkageSummary.read(ws)
    (tmp_path / "linkage").mkdir()
    (tmp_path / "linkage" / "summary.json").write_text(json.dumps({"workspace": "x", "colour": "red"}))
    with pytest.raises(WorkspaceError, match=r"unknown field\(s\) \['colour'\].*Re-run `falls-risk link"):
        LinkageSummary.read(ws)


def test_the_run_writes_the_summary_it_returns(mini_linked: Path) -> None:
    summary = LinkageSummary.read(Workspace(mini_linked))
    assert summary.workspace == mini_linked and summary.spine_people > 0
    assert "review + report" in summary.timings  # the record keeps the report's own time
    assert set(summary.sources) == {"social_care", "ed_attendances", "gp_events"}
