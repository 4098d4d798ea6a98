"""Monthly runs killed at every step boundary, a second run at once, another key (issues 19.4,
19.8, 19.9, 19.11): earlier months, the ledger and the work folder stay intact, and the next run
settles what the killed one left."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from falls_risk.errors import ScoringError
from falls_risk.modelling.registered import RegisteredModel
from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
from falls_risk.scoring.ledger import (
    ABANDONED,
    COMPLETED,
    PENDING,
    ledger_path,
    read_lines,
    read_runs,
    verify_ledger,
    verify_runs,
)
from falls_risk.scoring.manifest import output_hash
from falls_risk.scoring.work import WORK_OWNER

NOV, DEC = date(2025, 11, 1), date(2025, 12, 1)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def loaded(synthetic_model):
    return RegisteredModel(model=synthetic_model, name="falls-risk", version="7", run_id="run-abc",
                           uri="models:/falls-risk@champion")


def _request(extract, as_of, out, **kw):
    return ScoringRequest(extract, as_of, out, TierPolicy(capacity=40), **kw)


@pytest.fixture(scope="module")
def november(world_dir, loaded, tmp_path_factory):
    """A runs folder with November scored; the Splink model it trained, to reuse (quicker)."""
    base = tmp_path_factory.mktemp("ledger_runs")
    root = base / "runs"
    run_scoring(_request(world_dir / "extract", NOV, root / "2025-11", keep_work=True), model=loaded, progress=False)
    linkage_model = base / "linkage_model.json"
    shutil.copy(root / ".work" / "2025-11" / "linkage" / "model.json", linkage_model)
    shutil.rmtree(root / ".work" / "2025-11")
    return {"root": root, "extract": world_dir / "extract", "linkage_model": linkage_model}


@pytest.fixture
def runs(november, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(november["root"], root)
    return november | {"root": root}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _december(runs, loaded, **kw):
    request = _request(runs["extract"], DEC, runs["root"] / "2025-12", linkage_model=runs["linkage_model"], **kw)
    return run_scoring(request, model=loaded, progress=False)


def test_killed_after_the_write_ahead_entry_before_the_rename(runs, loaded, monkeypatch):
    root = runs["root"]
    november, ledger_before = _snapshot(root / "2025-11"), ledger_path(root).read_bytes()
    from falls_risk.scoring import ledger

    real = ledger.append_pending

    def then_killed(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # the step boundary: entry written, folder not yet in place

    monkeypatch.setattr(ledger, "append_pending", then_killed)
    with pytest.raises(KeyboardInterrupt):
        _december(runs, loaded)
    monkeypatch.undo()
    assert not (root / "2025-12").exists()
    assert _snapshot(root / "2025-11") == november
    assert ledger_path(root).read_bytes().startswith(ledger_before)  # appended to, never rewritten
    assert [r["status"] for r in verify_runs(root)] == [COMPLETED, PENDING]

    result = _december(runs, loaded)  # the next run settles the pending entry, then scores
    assert [r["status"] for r in read_runs(root)] == [COMPLETED, ABANDONED, COMPLETED]
    assert result.recorded and result.ledger_entry["output_hash"] == output_hash(root / "2025-12")
    assert verify_ledger(root)[-1]["month"] == "2025-12"


def test_killed_after_the_rename_before_the_entry_is_completed(runs, loaded, monkeypatch):
    """Before the write-ahead entry, this kill left a month in place that the ledger never named."""
    root = runs["root"]
    from falls_risk.scoring import ledger

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger, "complete", killed)
    with pytest.raises(KeyboardInterrupt):
        _december(runs, loaded)
    monkeypatch.undo()
    assert (root / "2025-12").is_dir()
    [_, december] = verify_runs(root)  # the month is recorded: its pending entry names its outputs
    assert december["status"] == PENDING and december["output_hash"] == output_hash(root / "2025-12")

    again = _december(runs, loaded)  # settles it as completed; the identical rerun adds nothing
    assert [r["status"] for r in read_runs(root)] == [COMPLETED, COMPLETED]
    assert read_runs(root)[-1]["recovered"] and not again.recorded


def test_a_rerun_killed_at_the_swap_leaves_the_month_in_place(runs, loaded, monkeypatch):
    root = runs["root"]
    _december(runs, loaded)
    december = _snapshot(root / "2025-12")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("falls_risk.workspace.exchange_paths", killed)
    rerun = ScoringRequest(runs["extract"], DEC, root / "2025-12", TierPolicy(capacity=41),  # new outputs
                           linkage_model=runs["linkage_model"])
    with pytest.raises(KeyboardInterrupt):
        run_scoring(rerun, model=loaded, progress=False)
    monkeypatch.undo()
    assert _snapshot(root / "2025-12") == december
    runs_now = verify_runs(root)  # the folder still holds the completed run's outputs
    assert [r["status"] for r in runs_now] == [COMPLETED, COMPLETED, PENDING]


def test_a_second_run_at_once_is_refused_while_the_first_holds_the_lock(runs, loaded):
    from falls_risk.scoring.work import run_lock

    with run_lock(runs["root"], "2025-12"), pytest.raises(ScoringError, match="Another `falls-risk score` is running"):
        _december(runs, loaded)
    assert not (runs["root"] / "2025-12").exists()
    assert list((runs["root"] / ".work").iterdir()) == []  # the lock file goes with the lock


@pytest.mark.slow
def test_a_second_run_at_once_is_refused(runs, loaded):
    """A real second process holds the runs folder's lock; this run is refused before any work."""
    root = runs["root"]
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from falls_risk.scoring.work import run_lock
            with run_lock(Path({str(root)!r}), "2025-12"):
                print("locked", flush=True)
                time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ScoringError, match=rf"Another `falls-risk score` is running .*process {holder.pid}"):
            _december(runs, loaded)
    finally:
        holder.kill()
        holder.wait()
    assert not (root / "2025-12").exists()
    _december(runs, loaded)  # the kernel released the dead holder's lock
    assert (root / "2025-12").is_dir()
    assert list((root / ".work").iterdir()) == []  # neither a working folder nor the lock file is left


def test_scoring_with_another_key_is_refused_with_the_fingerprint(runs, loaded, tmp_path):
    other = tmp_path / "keys" / "other.key"
    other.parent.mkdir()
    other.write_text("a-completely-different-secret-value\n")
    other.chmod(0o600)
    with pytest.raises(ScoringError, match="key whose fingerprint is .* Use the key file"):
        _december(runs, loaded, key_file=other)
    assert not (runs["root"] / "2025-12").exists()


@pytest.mark.slow
def test_a_real_kill_of_a_new_months_run_leaves_earlier_months_ledger_and_work_intact(runs, loaded, tmp_path):
    """SIGKILL (no clean-up runs) of a child process scoring December, right after its write-ahead
    entry, before its folder is renamed into place: November and the ledger's earlier lines
    survive, the lock is released; the next run sweeps the dead run's working folder (it holds
    identifiers), settles the entry and scores December."""
    root = runs["root"]
    november, ledger_before = _snapshot(root / "2025-11"), ledger_path(root).read_bytes()
    model_file = tmp_path / "model.pickle"
    model_file.write_bytes(pickle.dumps(loaded))
    script = textwrap.dedent(f"""
        import os, pickle, signal
        from datetime import date
        from pathlib import Path
        from falls_risk.scoring import ScoringRequest, TierPolicy, ledger, run_scoring

        real = ledger.append_pending

        def then_killed(*args, **kwargs):
            real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        ledger.append_pending = then_killed
        model = pickle.loads(Path({str(model_file)!r}).read_bytes())
        run_scoring(ScoringRequest(Path({str(runs["extract"])!r}), date(2025, 12, 1), Path({str(root / "2025-12")!r}),
                                   TierPolicy(capacity=40), linkage_model=Path({str(runs["linkage_model"])!r})),
                    model=model, progress=False)
    """)
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
                           env=os.environ | {"FALLS_RISK_SECRET": os.environ["FALLS_RISK_SECRET"]})
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert _snapshot(root / "2025-11") == november
    assert ledger_path(root).read_bytes().startswith(ledger_before)
    work = root / ".work" / "2025-12"
    assert (work / WORK_OWNER).exists()  # left by the killed run, with the month's identifiers
    assert [line["status"] for line in read_lines(root)][-1] == PENDING
    assert not (root / "2025-12").exists()
    assert [r["status"] for r in verify_runs(root)] == [COMPLETED, PENDING]

    _december(runs, loaded)
    assert not work.exists()
    assert [r["status"] for r in verify_runs(root)] == [COMPLETED, ABANDONED, COMPLETED]
    assert _snapshot(root / "2025-11") == november


def test_score_refuses_a_ledger_that_does_not_verify(runs, loaded):
    """A deleted ledger beside November's folder: December would re-fire every alert and lose
    November's tier, so the run is refused before any work, naming the month."""
    ledger_path(runs["root"]).unlink()
    with pytest.raises(ScoringError, match="Month 2025-11 is missing from the ledger"):
        _december(runs, loaded)
    assert not (runs["root"] / "2025-12").exists()
