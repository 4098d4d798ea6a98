import json

import pytest

from falls_risk.errors import ScoringError
from falls_risk.scoring.ledger import (
    append_entry,
    ledger_path,
    previous_run,
    read_ledger,
    runs_for_month,
    same_run,
    verify_ledger,
)


def _entry(month, model_version="3", output_hash="abc"):
    return {
        "month": month,
        "as_of": f"{month}-01",
        "extract_date": f"{month}-01",
        "model": {"name": "falls-risk", "version": model_version},
        "input_hashes": {"population.csv": "h1"},
        "output_hash": output_hash,
        "output_dir": month,
        "counts": {"eligible": 10},
    }


def test_entries_are_chained_and_answer_which_model_scored_a_month(tmp_path):
    append_entry(tmp_path, _entry("2026-01"))
    append_entry(tmp_path, _entry("2026-02"))
    append_entry(tmp_path, _entry("2026-03", model_version="4"))
    entries = verify_ledger(tmp_path)
    assert [e["sequence"] for e in entries] == [1, 2, 3]
    assert entries[1]["prev_hash"] == entries[0]["entry_hash"]
    assert runs_for_month(tmp_path, "2026-03")[-1]["model"]["version"] == "4"


def test_tampering_is_detected(tmp_path):
    for m in ("2026-01", "2026-02", "2026-03"):
        append_entry(tmp_path, _entry(m))
    path = ledger_path(tmp_path)
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["model"]["version"] = "99"
    lines[1] = json.dumps(edited, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScoringError, match="entry 2 .*2026-02"):
        verify_ledger(tmp_path)
    with pytest.raises(ScoringError, match="hash chain is broken"):
        append_entry(tmp_path, _entry("2026-04"))

    path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # a line removed
    with pytest.raises(ScoringError, match="entry 2"):
        verify_ledger(tmp_path)


def test_previous_run_is_latest_earlier_month_and_its_latest_rerun(tmp_path):
    append_entry(tmp_path, _entry("2026-01"))
    append_entry(tmp_path, _entry("2026-03", output_hash="first"))
    append_entry(tmp_path, _entry("2026-03", output_hash="rerun"))
    append_entry(tmp_path, _entry("2026-05"))
    entries = read_ledger(tmp_path)
    assert previous_run(entries, "2026-04")["output_hash"] == "rerun"
    assert previous_run(entries, "2026-03")["month"] == "2026-01"
    assert previous_run(entries, "2026-01") is None


def test_same_run_ignores_sequence_and_timing():
    a = _entry("2026-01") | {"sequence": 1, "recorded_at": "x"}
    b = _entry("2026-01") | {"sequence": 2, "recorded_at": "y"}
    assert same_run(a, b)
    assert not same_run(a, _entry("2026-01", model_version="5"))
