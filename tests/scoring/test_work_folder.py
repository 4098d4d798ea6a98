"""A scoring run that is killed leaves its working folder (identifiable extracts) behind; the
next run removes it, but never the folder of a run still going or one kept on purpose."""

from __future__ import annotations

import os
import subprocess
import sys

from falls_risk.catalog import SCORING_WORK
from falls_risk.scoring.work import WORK_OWNER, clear_abandoned_work


def _work(root, month, owner=None):
    folder = SCORING_WORK.path(root, month=month)
    (folder / "ingested").mkdir(parents=True)
    (folder / "ingested" / "population.parquet").write_bytes(b"names and addresses")
    if owner is not None:
        (folder / WORK_OWNER).write_text(str(owner))
    return folder


def test_only_the_folder_of_a_dead_run_is_removed(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    killed = _work(tmp_path, "2025-10", owner=finished.pid)
    running = _work(tmp_path, "2025-11", owner=os.getppid())
    kept = _work(tmp_path, "2025-09")  # keep_work: no owner
    assert clear_abandoned_work(tmp_path) == [killed]
    assert not killed.exists() and running.exists() and kept.exists()


def test_no_working_folder_is_nothing_to_do(tmp_path):
    assert clear_abandoned_work(tmp_path) == []
