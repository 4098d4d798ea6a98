"""`falls-risk notify`, `notify ack` and `notify status` through the console entry point."""

from __future__ import annotations

import os
import shutil

import pandas as pd

from falls_risk.cli import main
from falls_risk.notify.state import open_state


def test_notify_then_status_then_ack_from_the_command_line(scored_runs, december_delivery, trained_model,
                                                          tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(scored_runs, runs)
    config = tmp_path / "notify.yaml"
    config.write_text("daily_cap: 3\nquiet_period_days: 7\ntiers: [high, moderate]\n", encoding="utf-8")
    code = main(["notify", "--extract", str(december_delivery / "extract"), "--runs", str(runs),
                 "--config", str(config), "--tracking-uri", trained_model.tracking_uri])
    out = capsys.readouterr().err  # the console writes to stderr
    assert code == 0, out
    assert "new notifications" in out and "waiting for the daily cap" in out
    outbox = pd.concat([pd.read_csv(p, dtype=str) for p in (runs / "notifications" / "outbox").rglob("*.csv")])
    assert outbox.groupby("local_authority").size().max() <= 3  # the cap, per team

    assert main(["notify", "status", "--runs", str(runs)]) == 0
    status = capsys.readouterr().err
    assert "queued" in status and "sent" in status  # what the cap held back waits, counted
    assert not any(s in status for s in outbox["surname"])  # status never names anyone

    first = outbox["notification_id"].iloc[0]
    assert main(["notify", "ack", first, "--by", "Gwen Morgan", "--note", "visited", "--runs", str(runs)]) == 0
    with open_state(runs) as state:
        assert state.table("acknowledgements")["notification_id"].tolist() == [first]
    assert main(["notify", "ack", "N-NOSUCH", "--by", "Gwen", "--runs", str(runs)]) == 1
    assert "No notification 'N-NOSUCH'" in capsys.readouterr().err


def test_notify_without_a_monthly_run_says_what_to_do(tmp_path, december_delivery, capsys):
    assert main(["notify", "--extract", str(december_delivery / "extract"), "--runs", str(tmp_path)]) == 1
    assert "Run `falls-risk score" in capsys.readouterr().err


def test_notify_with_a_key_file_needs_no_secret_in_the_environment(scored_runs, december_delivery, trained_model,
                                                                   tmp_path, monkeypatch, capsys):
    # The demo scored with --key-file and no FALLS_RISK_SECRET; notify then failed verifying the ledger
    # because it looked for the key only in the environment.
    runs = tmp_path / "runs"
    shutil.copytree(scored_runs, runs)
    key = tmp_path / "keys" / "secret.key"
    key.parent.mkdir(mode=0o700)
    key.write_text(os.environ["FALLS_RISK_SECRET"] + "\n", encoding="ascii")
    key.chmod(0o600)
    monkeypatch.delenv("FALLS_RISK_SECRET")
    monkeypatch.setattr("falls_risk.linkage.secret.DEFAULT_KEY_FILE", tmp_path / "no-default.key")
    code = main(["notify", "--extract", str(december_delivery / "extract"), "--runs", str(runs),
                 "--tracking-uri", trained_model.tracking_uri, "--key-file", str(key)])
    assert code == 0, capsys.readouterr().err
    assert list((runs / "notifications" / "outbox").rglob("*.csv"))
