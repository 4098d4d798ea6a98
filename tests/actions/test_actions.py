"""Actions import (validated like an extract, pseudonymised, nothing lost), ledger, summary, last contacts."""

from __future__ import annotations

import json
import stat
from datetime import date

import pandas as pd
import pytest

from falls_risk.actions import actions_summary, import_actions, last_contacts, read_actions
from falls_risk.catalog import ACTIONS_LEDGER, SCORES
from falls_risk.cli import main
from falls_risk.errors import ExtractError, ScoringError
from falls_risk.identity import nhs_check_digit, person_key
from falls_risk.scoring.ledger import LedgerEntry, append_entry

SECRET = b"test-secret-not-for-real-use"
TODAY = date(2026, 3, 20)


def nhs_numbers(n: int, start: int = 400_000_000) -> list[str]:
    out, stem = [], start
    while len(out) < n:
        digits = f"{stem:09d}"
        check = nhs_check_digit(digits)
        if check is not None:
            out.append(digits + str(check))
        stem += 1
    return out


NHS = nhs_numbers(6)
BAD_CHECK = NHS[0][:9] + str((int(NHS[0][9]) + 1) % 10)


def write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


GOOD = [
    {"nhs_number": NHS[0], "action_date": "2026-02-03", "action": "contacted", "team": "North", "note": "Mrs X said"},
    {"nhs_number": NHS[0], "action_date": "2026-02-10", "action": "Assessed", "team": "North", "note": ""},
    {"nhs_number": f"{NHS[1][:3]} {NHS[1][3:6]} {NHS[1][6:]}", "action_date": "2026-02-04",
     "action": "medication review", "team": "South", "note": ""},
    {"nhs_number": NHS[2], "action_date": "2026-03-05", "action": "declined", "team": "South", "list_month": "2026-02"},
]
BAD = [
    {"nhs_number": BAD_CHECK, "action_date": "2026-02-03", "action": "contacted", "team": "North"},
    {"nhs_number": NHS[3], "action_date": "", "action": "referred", "team": "North"},
    {"nhs_number": NHS[3], "action_date": "2026-02-05", "action": "phoned", "team": "North"},
    {"nhs_number": NHS[4], "action_date": "2026-04-01", "action": "referred", "team": "North"},
    {"nhs_number": NHS[4], "action_date": "2026-02-01", "action": "referred", "list_month": "Feb 2026"},
    {"nhs_number": NHS[0], "action_date": "2026-02-03", "action": "contacted", "team": "North"},  # duplicate
]


def test_import_quarantines_bad_rows_with_reasons_and_loses_nothing(tmp_path):
    runs = tmp_path / "runs"
    result = import_actions(write_csv(tmp_path / "actions.csv", GOOD + BAD), runs, secret=SECRET, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (10, 4, 6)
    quarantine = pd.read_csv(result.quarantine_file, dtype=str)
    assert stat.S_IMODE(result.quarantine_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.quarantine_file.parent.stat().st_mode) == 0o700
    by_row = dict(zip(quarantine["row_number"].astype(int), quarantine["reasons"], strict=True))
    assert by_row == {
        5: "nhs_number fails the modulus-11 check",
        6: "missing action_date",
        7: "action not one of contacted/assessed/referred/medication_review/adaptation/declined/unreachable/"
           "already_known/no_action",
        8: "action_date after the import date",
        9: "list_month not YYYY-MM",
        10: "same person, date, action and team as an earlier row",
    }
    assert quarantine.loc[0, "nhs_number"] == BAD_CHECK  # the raw value, so the team can fix it

    actions = read_actions(runs)
    assert actions["person_key"].tolist() == [person_key(SECRET, n) for n in (NHS[0], NHS[0], NHS[1], NHS[2])]
    assert actions["action"].tolist() == ["contacted", "assessed", "medication_review", "declined"]
    assert actions["has_note"].tolist() == [True, False, False, False]
    ledger_text = ACTIONS_LEDGER.path(runs).read_text()
    assert not any(n in ledger_text for n in NHS) and "Mrs X" not in ledger_text
    [entry] = [json.loads(line) for line in ledger_text.splitlines()]
    assert entry["read"] == entry["accepted"] + entry["quarantined"] == 10


def test_a_file_is_imported_once_and_a_resent_row_is_not_doubled(tmp_path):
    runs = tmp_path / "runs"
    first = write_csv(tmp_path / "march.csv", GOOD)
    import_actions(first, runs, secret=SECRET, today=TODAY)
    with pytest.raises(ExtractError, match="already imported"):
        import_actions(first, runs, secret=SECRET, today=TODAY)
    extra = {"nhs_number": NHS[5], "action_date": "2026-03-01", "action": "referred", "team": "North"}
    again = import_actions(write_csv(tmp_path / "march_v2.csv", [*GOOD[:1], extra]), runs, secret=SECRET, today=TODAY)
    assert (again.accepted, again.quarantined) == (1, 1)
    assert again.reasons == {"already in the actions ledger": 1}
    assert len(read_actions(runs)) == 5


def test_an_edited_actions_ledger_is_refused(tmp_path):
    runs = tmp_path / "runs"
    import_actions(write_csv(tmp_path / "a.csv", GOOD), runs, secret=SECRET, today=TODAY)
    path = ACTIONS_LEDGER.path(runs)
    path.write_text(path.read_text().replace("declined", "referred"))
    with pytest.raises(ScoringError, match="line 1: the actions ledger's hash chain is broken"):
        read_actions(runs)


def fake_run(root, month: str, as_of: str, flagged: list[str], others: list[str]):
    """A recorded run: its scores.parquet and its ledger entry (as scoring writes them)."""
    folder = root / month
    keys = flagged + others
    SCORES.save(folder, pd.DataFrame({
        "person_key": keys, "probability": [0.5] * len(flagged) + [0.01] * len(others),
        "tier": ["high"] * len(flagged) + ["low"] * len(others)}))
    append_entry(root, LedgerEntry(month=month, as_of=as_of, extract_date=as_of, model={}, output_hash="",
                                   output_dir=month), SECRET)


def test_summary_counts_listed_and_acted_on_per_month_and_team_and_last_contacts(tmp_path):
    runs = tmp_path / "runs"
    keys = [person_key(SECRET, n) for n in NHS]
    fake_run(runs, "2026-02", "2026-02-01", flagged=keys[:3], others=keys[3:])
    fake_run(runs, "2026-03", "2026-03-01", flagged=keys[:2], others=keys[2:])
    import_actions(write_csv(tmp_path / "a.csv", GOOD), runs, secret=SECRET, today=TODAY)
    summary = actions_summary(runs).set_index(["month", "team"])
    feb = summary.loc[("2026-02", "all teams")]
    # NHS[0] contacted and assessed, NHS[1] medication review, NHS[2] declined (list_month 2026-02).
    assert (feb["listed"], feb["with_action"], feb["acted_on"], feb["not_acted_on"]) == (3, 3, 2, 1)
    assert (feb["contacted"], feb["assessed"], feb["medication_review"], feb["declined"]) == (1, 1, 1, 1)
    assert summary.loc[("2026-02", "North"), "acted_on"] == 1
    assert summary.loc[("2026-02", "South"), "declined"] == 1
    march = summary.loc[("2026-03", "all teams")]
    assert (march["listed"], march["with_action"], march["acted_on"]) == (2, 0, 0)

    last = last_contacts(runs).set_index("person_key")
    assert last.loc[keys[0], "last_action"] == "assessed"
    assert last.loc[keys[0], "last_action_date"] == date(2026, 2, 10)
    assert set(last.index) == set(keys[:3])
    assert last_contacts(tmp_path / "no_actions_recorded") is None


def test_cli_import_and_summary(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs, "2026-02", "2026-02-01", flagged=[person_key(SECRET, n) for n in NHS[:3]], others=[])
    assert main(["actions", "import", str(write_csv(tmp_path / "a.csv", GOOD + BAD[:1])), "--runs", str(runs)]) == 0
    out = "".join(capsys.readouterr())
    assert "Imported 4 of 5 actions" in out and "1 row(s) quarantined" in out
    assert main(["actions", "summary", "--runs", str(runs)]) == 0
    out = "".join(capsys.readouterr())
    assert "2026-02" in out and "<5" in out
    assert main(["actions", "import", str(write_csv(tmp_path / "b.csv", [{"nhs_number": NHS[0]}])),
                 "--runs", str(runs)]) == 1
    assert "missing required column(s) action_date, action" in "".join(capsys.readouterr())
