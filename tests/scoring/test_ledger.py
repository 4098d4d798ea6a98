"""The scoring ledger: a keyed (HMAC) hash chain, write-ahead entries, and every month folder
checked against it (issue 19.8)."""

import hashlib
import hmac
import itertools
import json

import pandas as pd
import pytest

from falls_risk.errors import ScoringError
from falls_risk.identity import key_fingerprint
from falls_risk.scoring.ledger import (
    ABANDONED,
    COMPLETED,
    PENDING,
    LedgerEntry,
    append_entry,
    append_pending,
    complete,
    entry_mac,
    ledger_key,
    ledger_path,
    previous_run,
    read_ledger,
    read_lines,
    read_runs,
    resolve_pending,
    runs_for_month,
    same_run,
    verify_ledger,
    verify_runs,
    verify_summary,
)
from falls_risk.scoring.manifest import output_hash

SECRET = b"ledger-test-secret-0123456789"
OTHER = b"another-secret-9876543210abcdef"


def _entry(month, model_version="3", output_hash="abc", output_dir=None):
    return LedgerEntry(
        month=month, as_of=f"{month}-01", extract_date=f"{month}-01",
        model={"name": "falls-risk", "version": model_version}, input_hashes={"population.csv": "h1"},
        output_hash=output_hash, output_dir=output_dir or month, counts={"eligible": 10},
    )


def _run_folder(root, month, content="scores"):
    """A month's run folder as run_folder writes it (a manifest and a result file); its output hash."""
    folder = root / month
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"month": month}))
    pd.DataFrame({"person_key": [content]}).to_parquet(folder / "scores.parquet")
    return output_hash(folder)


def _scored(root, month, content="scores", **kw):
    """A month scored and recorded, as a completed run does it."""
    return append_entry(root, _entry(month, output_hash=_run_folder(root, month, content), **kw), SECRET)


def _rewrite(root, lines):
    ledger_path(root).write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))


def test_entries_are_chained_and_answer_which_model_scored_a_month(tmp_path):
    _scored(tmp_path, "2026-01")
    _scored(tmp_path, "2026-02")
    _scored(tmp_path, "2026-03", model_version="4")
    runs = verify_ledger(tmp_path, SECRET)
    assert [r["month"] for r in runs] == ["2026-01", "2026-02", "2026-03"]
    assert all(r["status"] == COMPLETED for r in runs)
    lines = read_lines(tmp_path)
    assert [line["sequence"] for line in lines] == [1, 2, 3, 4, 5, 6]  # a pending and a completed line per run
    assert all(b["prev_hash"] == a["entry_hash"] for a, b in itertools.pairwise(lines))
    assert runs_for_month(tmp_path, "2026-03")[-1]["model"]["version"] == "4"
    assert "3 completed runs of 3 months (2026-01 to 2026-03)" in verify_summary(tmp_path, SECRET)[0]


def test_an_edit_with_recomputed_hashes_is_detected(tmp_path):
    """The old chain was plain sha256: anyone could edit a line and recompute every hash. Now the
    hash is an HMAC under a key derived from the secret."""
    for month in ("2026-01", "2026-02", "2026-03"):
        _scored(tmp_path, month)
    lines = read_lines(tmp_path)
    lines[2]["model"]["version"] = "99"  # month 2026-02's pending line
    previous = "0" * 64
    for line in lines:  # recompute the whole chain, as an editor without the secret can
        line["prev_hash"] = previous
        body = {k: v for k, v in line.items() if k != "entry_hash"}
        line["entry_hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        previous = line["entry_hash"]
    _rewrite(tmp_path, lines)
    with pytest.raises(ScoringError, match=r"entry 1 \(month '2026-01'\): its keyed hash does not match"):
        verify_ledger(tmp_path, SECRET)

    # Recomputed with a key derived from another secret (and its fingerprint) fails too.
    key = ledger_key(OTHER)
    previous = "0" * 64
    for line in lines:
        line["key_fingerprint"] = key_fingerprint(SECRET)
        line["prev_hash"] = previous
        line["entry_hash"] = entry_mac(key, line)
        previous = line["entry_hash"]
    _rewrite(tmp_path, lines)
    with pytest.raises(ScoringError, match="entry 1 .*keyed hash does not match"):
        verify_ledger(tmp_path, SECRET)
    with pytest.raises(ScoringError, match="keyed hash does not match"):
        append_entry(tmp_path, _entry("2026-04"), SECRET)


def test_an_edited_or_removed_middle_line_names_the_entry(tmp_path):
    for month in ("2026-01", "2026-02", "2026-03"):
        _scored(tmp_path, month)
    original = read_lines(tmp_path)
    edited = [dict(line) for line in original]
    edited[2] = edited[2] | {"output_hash": "f" * 64}
    _rewrite(tmp_path, edited)
    with pytest.raises(ScoringError, match=r"entry 3 \(month '2026-02'\)"):
        verify_ledger(tmp_path, SECRET)
    _rewrite(tmp_path, original[:2] + original[4:])  # 2026-02's two lines removed
    with pytest.raises(ScoringError, match="entry 3 "):
        verify_ledger(tmp_path, SECRET)


def test_deleted_last_lines_are_found_from_the_month_folder(tmp_path):
    """A truncated ledger once re-fired December's alerts unnoticed: the month folder is still
    there, so the month the ledger lost is named."""
    _scored(tmp_path, "2025-11")
    _scored(tmp_path, "2025-12")
    lines = read_lines(tmp_path)
    _rewrite(tmp_path, lines[:2])
    with pytest.raises(ScoringError, match="Month 2025-12 is missing from the ledger"):
        verify_ledger(tmp_path, SECRET)


def test_a_deleted_last_line_of_a_rerun_is_found(tmp_path):
    _scored(tmp_path, "2025-12", content="first")
    _scored(tmp_path, "2025-12", content="rerun")
    lines = read_lines(tmp_path)
    _rewrite(tmp_path, lines[:2])  # the rerun's lines gone; its outputs are in the folder
    with pytest.raises(ScoringError, match="not the ones the ledger last recorded for month 2025-12"):
        verify_ledger(tmp_path, SECRET)


def test_a_deleted_ledger_with_run_folders_is_refused(tmp_path):
    _scored(tmp_path, "2025-11")
    ledger_path(tmp_path).unlink()
    with pytest.raises(ScoringError, match=r"Month 2025-11 is missing from the ledger: .* does not exist"):
        verify_ledger(tmp_path, SECRET)
    assert verify_ledger(tmp_path / "empty", SECRET) == []  # no runs, no ledger: nothing to check


def test_a_removed_month_folder_is_named(tmp_path):
    _scored(tmp_path, "2025-11")
    _scored(tmp_path, "2025-12")
    for path in (tmp_path / "2025-11").iterdir():
        path.unlink()
    (tmp_path / "2025-11").rmdir()
    with pytest.raises(ScoringError, match="Month 2025-11 is missing: the ledger records its run"):
        verify_ledger(tmp_path, SECRET)


def test_another_key_is_refused_with_its_fingerprint(tmp_path):
    _scored(tmp_path, "2025-11")
    with pytest.raises(ScoringError, match="written with the key whose fingerprint is .*Use the key file"):
        verify_ledger(tmp_path, OTHER)
    assert key_fingerprint(SECRET)[:12] in ledger_path(tmp_path).read_text()
    assert SECRET.decode() not in ledger_path(tmp_path).read_text()


def test_write_ahead_a_kill_after_the_rename_is_completed_by_the_next_run(tmp_path):
    pending = append_pending(tmp_path, SECRET, _entry("2026-01", output_hash=_run_folder(tmp_path, "2026-01")))
    # Killed here: the folder is in place, the run pending.
    [run] = verify_runs(tmp_path, SECRET)
    assert run["status"] == PENDING and runs_for_month(tmp_path, "2026-01") == []
    assert "interrupted before being marked complete (entries 1)" in verify_summary(tmp_path, SECRET)[1]
    [settled] = resolve_pending(tmp_path, SECRET)
    assert settled["status"] == COMPLETED and settled["recovered"]
    assert runs_for_month(tmp_path, "2026-01")[0]["sequence"] == pending["sequence"]
    assert resolve_pending(tmp_path, SECRET) == []


def test_write_ahead_a_kill_before_the_rename_is_abandoned_and_the_old_month_stays(tmp_path):
    first = _scored(tmp_path, "2026-01", content="first")
    append_pending(tmp_path, SECRET, _entry("2026-01", output_hash="never-in-place"))
    # Killed before the rename: the folder still holds the first run's outputs.
    runs = verify_runs(tmp_path, SECRET)
    assert [r["status"] for r in runs] == [COMPLETED, PENDING]
    [settled] = resolve_pending(tmp_path, SECRET)
    assert settled["status"] == ABANDONED
    assert [r["status"] for r in verify_runs(tmp_path, SECRET)] == [COMPLETED, ABANDONED]
    assert runs_for_month(tmp_path, "2026-01")[-1]["output_hash"] == first["output_hash"]


def test_completing_twice_or_a_completed_run_is_refused(tmp_path):
    pending = append_pending(tmp_path, SECRET, _entry("2026-01", output_hash=_run_folder(tmp_path, "2026-01")))
    complete(tmp_path, SECRET, pending)
    complete(tmp_path, SECRET, pending)
    with pytest.raises(ScoringError, match="entry 3: it completed run entry 1, which is not a pending run"):
        verify_ledger(tmp_path, SECRET)


def test_previous_run_is_latest_completed_earlier_month_and_its_latest_rerun(tmp_path):
    append_entry(tmp_path, _entry("2026-01"), SECRET)
    append_entry(tmp_path, _entry("2026-03", output_hash="first"), SECRET)
    append_entry(tmp_path, _entry("2026-03", output_hash="rerun"), SECRET)
    append_pending(tmp_path, SECRET, _entry("2026-03", output_hash="killed"))
    append_entry(tmp_path, _entry("2026-05"), SECRET)
    entries = read_runs(tmp_path)  # pending runs included: previous_run skips them
    assert previous_run(entries, "2026-04")["output_hash"] == "rerun"
    assert previous_run(entries, "2026-03")["month"] == "2026-01"
    assert previous_run(entries, "2026-01") is None


def test_same_run_ignores_sequence_and_timing():
    a = _entry("2026-01").to_dict() | {"sequence": 1, "recorded_at": "x"}
    b = _entry("2026-01").to_dict() | {"sequence": 2, "recorded_at": "y"}
    assert same_run(a, b)
    assert not same_run(a, _entry("2026-01", model_version="5").to_dict())


def test_optional_fields_are_recorded_and_covered_by_the_chain(tmp_path):
    entry = LedgerEntry(**{**_entry("2026-01").__dict__, "extra": {"holdout": {"percent": 5}}})
    append_entry(tmp_path, entry, SECRET)
    assert read_ledger(tmp_path)[0]["holdout"] == {"percent": 5}
    lines = read_lines(tmp_path)
    lines[0]["holdout"]["percent"] = 0
    _rewrite(tmp_path, lines)
    with pytest.raises(ScoringError, match="entry 1 "):
        verify_ledger(tmp_path, SECRET)
    with pytest.raises(ValueError, match="clash"):
        LedgerEntry(**{**_entry("2026-01").__dict__, "extra": {"month": "x"}}).to_dict()


# --- HMAC known answers -------------------------------------------------------------------------
def test_hmac_sha256_known_answer_rfc_4231():
    """RFC 4231 test case 2: the HMAC every key and the ledger rest on is the standard one."""
    assert hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_ledger_mac_and_fingerprint_known_answers():
    """Pinned values: a change to how the ledger key, line MAC or fingerprint is made would make
    every existing ledger fail to verify (and every fingerprint change), so it must be deliberate."""
    key = ledger_key(b"Jefe")
    assert key == hmac.new(b"Jefe", b"falls-risk derived key:scoring ledger v1", hashlib.sha256).digest()
    line = {"month": "2026-01", "sequence": 1, "prev_hash": "0" * 64, "entry_hash": "ignored"}
    expected = hmac.new(key, b'{"month":"2026-01","prev_hash":"' + b"0" * 64 + b'","sequence":1}',
                        hashlib.sha256).hexdigest()
    assert entry_mac(key, line) == expected
    assert entry_mac(key, line) == "7a72556af28cd847b7d2861f0cc021918df0a3756da5acce473723c1b3b1be72"
    assert key_fingerprint(b"Jefe") == hmac.new(
        b"Jefe", b"fingerprint:falls-risk key fingerprint v1", hashlib.sha256).hexdigest()[:32]
