"""Temporary files of identifiable stages stay inside their work folder (issue 19.7), and the
workspace records which key made its person keys (issue 19.4)."""

from __future__ import annotations

import os
import stat
import tempfile

import pytest

from falls_risk.errors import LinkageError
from falls_risk.identity import key_fingerprint
from falls_risk.linkage import LinkageSummary, run_linkage
from falls_risk.workspace import private_temp_dir
from tests.conftest import copy_workspace

SECRET = os.environ["FALLS_RISK_SECRET"].encode()


@pytest.fixture
def system_tmp(tmp_path, monkeypatch):
    """The system temporary folder, pointed at an empty test folder for this test."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert tempfile.gettempdir() == str(folder)
    return folder


def test_link_spills_inside_the_workspace_and_leaves_nothing_in_the_system_temp_folder(
    ingested_workspace, tmp_path, system_tmp, monkeypatch
):
    ws = copy_workspace(ingested_workspace, tmp_path / "ws")
    stale = ws / f".link-tmp-{2**22 + 12345}-dead"  # left by a link that was killed (no such process)
    stale.mkdir()
    (stale / "duckdb_temp_block-1.block").write_bytes(b"9434765919 Smith")
    from falls_risk.linkage import pipeline

    seen = {}
    real_connect = pipeline.connect

    def watching(**kwargs):
        folder = kwargs["temp_directory"]
        seen["folder"], seen["mode"] = folder, stat.S_IMODE(folder.stat().st_mode)
        con = real_connect(**kwargs)
        seen["setting"] = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        return con

    monkeypatch.setattr(pipeline, "connect", watching)
    summary = run_linkage(ws, progress=False)
    assert seen["folder"].parent == ws and seen["mode"] == 0o700
    assert seen["setting"] == str(seen["folder"])  # DuckDB really spills there
    assert not seen["folder"].exists() and not stale.exists()  # removed after the run; the dead run's swept
    assert list(system_tmp.iterdir()) == []
    assert summary.key_fingerprint == key_fingerprint(SECRET)


def test_a_running_stages_temp_folder_is_not_swept(tmp_path):
    mine = private_temp_dir(tmp_path, "link")
    other = private_temp_dir(tmp_path, "link")  # this process is alive: both stay
    assert mine.exists() and other.exists() and mine != other
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


def test_the_workspace_records_the_key_fingerprint_and_refuses_another_key(linked_workspace, tmp_path):
    summary = LinkageSummary.read(linked_workspace)
    assert summary.key_fingerprint == key_fingerprint(SECRET)
    record = (linked_workspace / "linkage" / "summary.json").read_text()
    assert SECRET.decode() not in record and summary.key_fingerprint in record

    ws = copy_workspace(linked_workspace, tmp_path / "ws")
    with pytest.raises(LinkageError, match=r"linked with the key whose fingerprint is \w{12}, but this key's is"):
        run_linkage(ws, secret=b"a-completely-different-secret-value", progress=False)
    assert LinkageSummary.read(ws) == LinkageSummary.read(linked_workspace)  # nothing was re-linked
