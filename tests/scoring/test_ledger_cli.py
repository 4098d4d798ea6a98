"""`falls-risk ledger verify`, the score command's key-file checks, and one message (never a
traceback) for a full disk or exhausted memory (issues 19.8 and 19.9)."""

from __future__ import annotations

import errno
import os

import pytest

from falls_risk.cli import main
from falls_risk.scoring.ledger import ledger_path, read_lines
from tests.scoring.test_ledger import _rewrite, _scored

SECRET = b"ledger-test-secret-0123456789"


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys" / "secret.key"
    path.parent.mkdir()
    path.write_bytes(SECRET + b"\n")
    path.chmod(0o600)
    return path


def test_ledger_verify_passes_an_intact_ledger_and_names_a_missing_month(tmp_path, key_file, capsys):
    runs = tmp_path / "runs"
    _scored(runs, "2025-11")
    _scored(runs, "2025-12")
    assert main(["ledger", "verify", str(runs), "--key-file", str(key_file)]) == 0
    assert "keyed hash chain intact; 2 completed runs of 2 months" in capsys.readouterr().err

    _rewrite(runs, read_lines(runs)[:2])  # December's lines deleted
    assert main(["ledger", "verify", str(runs), "--key-file", str(key_file)]) == 1
    err = capsys.readouterr().err
    assert "Month 2025-12 is missing from the ledger" in err and "Traceback" not in err


def test_ledger_verify_names_the_first_edited_entry(tmp_path, key_file, capsys):
    runs = tmp_path / "runs"
    _scored(runs, "2025-11")
    text = ledger_path(runs).read_text().replace('"version": "3"', '"version": "4"', 1)
    ledger_path(runs).write_text(text)
    assert main(["ledger", "verify", str(runs), "--key-file", str(key_file)]) == 1
    assert "entry 1 (month '2025-11'): its keyed hash does not match" in capsys.readouterr().err.replace("\n", " ")


def test_ledger_verify_with_another_key_says_so(tmp_path, key_file, capsys):
    runs = tmp_path / "runs"
    _scored(runs, "2025-11")
    other = tmp_path / "keys" / "other.key"
    other.write_text("a-completely-different-secret-value\n")
    assert main(["ledger", "verify", str(runs), "--key-file", str(other)]) == 1
    assert "fingerprint" in capsys.readouterr().err


def _score(tmp_path, key):
    return main(["score", "--extract", str(tmp_path / "extract"), "--as-of", "2025-01-01", "--out",
                 str(tmp_path / "runs" / "2025-01"), "--capacity", "5", "--key-file", str(key)])


def test_score_refuses_a_key_file_others_can_read(tmp_path, key_file, capsys):
    key_file.chmod(0o644)
    assert _score(tmp_path, key_file) == 1
    err = capsys.readouterr().err
    assert "can be read by others (mode 0644)" in err and f"chmod 600 {key_file}" in err.replace("\n", "")
    key_file.chmod(0o640)
    assert _score(tmp_path, key_file) == 1
    assert "mode 0640" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "2025-01").exists()


def test_score_refuses_a_key_file_inside_the_runs_folder(tmp_path, capsys):
    inside = tmp_path / "runs" / "secret.key"
    inside.parent.mkdir()
    inside.write_bytes(SECRET)
    inside.chmod(0o600)
    assert _score(tmp_path, inside) == 1
    assert "inside the runs folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/ws/ingested/population.parquet"),
         "the disk is full writing /data/ws/ingested/population.parquet"),
        (MemoryError(), "out of memory"),
    ],
)
def test_disk_full_and_out_of_memory_print_one_message(tmp_path, monkeypatch, capsys, raised, said):
    def fails(*args, **kwargs):
        raise raised

    monkeypatch.setattr("falls_risk.ingest.run_ingest", fails)
    assert main(["ingest", str(tmp_path), "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err
    assert said in err.replace("\n", " ") and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3  # one message (wrapped at most)
    with pytest.raises(type(raised)):
        main(["ingest", str(tmp_path), "--workspace", str(tmp_path / "ws"), "--debug"])


def test_other_os_errors_still_show_their_traceback(tmp_path, monkeypatch):
    def fails(*args, **kwargs):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr("falls_risk.ingest.run_ingest", fails)
    with pytest.raises(OSError, match="I/O error"):
        main(["ingest", str(tmp_path), "--workspace", str(tmp_path / "ws")])


def test_the_default_key_file_is_checked_too(tmp_path, monkeypatch):
    from falls_risk.errors import ScoringError
    from falls_risk.scoring.safety import check_key_file

    monkeypatch.delenv("FALLS_RISK_SECRET")
    monkeypatch.setenv("HOME", str(tmp_path))
    default = tmp_path / ".config" / "falls-risk" / "secret.key"
    default.parent.mkdir(parents=True)
    default.write_bytes(SECRET)
    default.chmod(0o604)
    with pytest.raises(ScoringError, match="can be read by others"):
        check_key_file(None, tmp_path / "runs")
    default.chmod(0o600)
    check_key_file(None, tmp_path / "runs")
