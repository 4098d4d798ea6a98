"""Monitoring on the shared small world: score months with the trained model, then monitor them on
the full extract. The realised AUROC of a month is exactly the AUROC of that run's scores against
the labels ``features`` gives for the date, and close to the AUROC against the synthetic truth."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score

from falls_risk import tracking
from falls_risk.actions import import_actions
from falls_risk.catalog import SCORES, TRUTH_FALL_ADMISSIONS
from falls_risk.cli import main
from falls_risk.features import load_feature_table
from falls_risk.identity import person_keys
from falls_risk.modelling.leaderboard import compare_runs
from falls_risk.modelling.registered import load_registered
from falls_risk.monitor import MonitorRequest, run_monitor
from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring

IN_TEST_PERIOD = date(2024, 7, 1)  # an out-of-time test index date of the trained_model fixture
STILL_OPEN = date(2025, 6, 1)  # its 365-day window runs past the extract's end (2025-12-31)


@pytest.fixture(scope="module")
def monitored(trained_model, world_dir, tmp_path_factory):
    tracking.configure(trained_model.tracking_uri)
    registered = load_registered(trained_model.model_uri)
    root = tmp_path_factory.mktemp("monitor") / "runs"

    def score(as_of, holdout_percent=0.0):
        return run_scoring(ScoringRequest(world_dir / "extract", as_of, root / as_of.strftime("%Y-%m"),
                                          TierPolicy(capacity=60), tracking_uri=trained_model.tracking_uri,
                                          holdout_percent=holdout_percent), model=registered, progress=False)

    score(IN_TEST_PERIOD)
    # The teams assessed the first 20 people of July's flagged tier.
    risk_list = pd.read_csv(root / "2024-07" / "risk_list.csv", dtype=str)
    assessed = risk_list[risk_list["tier"] == "high"].head(20)
    actions = root.parent / "actions.csv"
    pd.DataFrame({"nhs_number": assessed["nhs_number"], "action_date": "2024-07-20", "action": "assessed",
                  "team": "North"}).to_csv(actions, index=False)
    import_actions(actions, root, today=date(2026, 1, 1))
    open_month = score(STILL_OPEN, holdout_percent=30)
    rerun = score(STILL_OPEN, holdout_percent=30)
    out = root.parent / "monitor_out"
    result = run_monitor(MonitorRequest(world_dir / "extract", root, out, tracking_uri=trained_model.tracking_uri,
                                        n_bootstrap=50))
    return {"root": root, "out": out, "result": result, "registered": registered, "open_month": open_month,
            "tracking_uri": trained_model.tracking_uri,
            "rerun": rerun, "assessed": assessed, "months": {m["month"]: m for m in result.data["months"]}}


def test_realised_auroc_is_the_auroc_against_the_labels_features_gives_and_near_the_truth(
        monitored, trained_model, feature_workspace, world_dir):
    assert IN_TEST_PERIOD in trained_model.model.training_record_.split.test_index_dates
    month = monitored["months"]["2024-07"]
    assert month["window_complete"] and not month["partial"]
    scores = SCORES.load(monitored["root"] / "2024-07", columns=["person_key", "probability"])
    labels = load_feature_table(feature_workspace, [IN_TEST_PERIOD])[["person_key", "label"]]
    known = scores.merge(labels[labels["label"].notna()], on="person_key")
    assert month["n_scored"] == len(scores) and month["n_outcomes"] == len(known) > 500
    assert month["n_events"] == int(known["label"].sum()) > 20
    assert month["auroc"] == pytest.approx(roc_auc_score(known["label"].astype(int), known["probability"]), abs=1e-9)
    assert month["auroc_ci_low"] < month["auroc"] < month["auroc_ci_high"]
    assert month["observed_expected"] == pytest.approx(known["label"].sum() / known["probability"].sum(), abs=1e-9)

    admissions = TRUTH_FALL_ADMISSIONS.load(world_dir / "truth")
    admissions = admissions[(pd.to_datetime(admissions["admission_date"]).dt.date > IN_TEST_PERIOD)
                            & (pd.to_datetime(admissions["admission_date"]).dt.date
                               <= IN_TEST_PERIOD + timedelta(days=365))]
    fell = set(person_keys(os.environ["FALLS_RISK_SECRET"].encode(), admissions["nhs_number"]))
    truth = known["person_key"].isin(fell).astype(int)
    against_truth = roc_auc_score(truth, known["probability"])
    print(f"2024-07: realised AUROC {month['auroc']:.4f}, against the truth {against_truth:.4f}")
    assert abs(month["auroc"] - against_truth) < 0.01


def test_an_open_window_is_assessed_on_its_elapsed_part_and_marked_partial(monitored):
    month = monitored["months"]["2025-06"]
    data = monitored["result"].data
    elapsed = (date.fromisoformat(data["label_known_until"]) - STILL_OPEN).days
    assert month["partial"] and not month["window_complete"]
    assert month["elapsed_days"] == elapsed and 0 < elapsed < month["horizon_days"]
    assert 0 < month["n_events"] < monitored["months"]["2024-07"]["n_events"]
    # Expected admissions are scaled to the elapsed share of the window, so observed/expected stays near 1.
    assert month["expected_events"] < 0.8 * sum(t["expected"] for t in monitored["months"]["2024-07"]["by_tier"])
    assert 0.5 < month["observed_expected"] < 2.0


def test_monitor_json_and_page_hold_every_month_with_tiers_subgroups_and_actions(monitored):
    on_disk = json.loads((monitored["out"] / "monitor.json").read_text())
    assert [m["month"] for m in on_disk["months"]] == ["2024-07", "2025-06"]
    required = {"as_of", "window_complete", "n_scored", "n_outcomes", "auroc", "auroc_ci_low", "auroc_ci_high",
                "observed_expected", "auprc", "calibration_slope", "calibration_intercept", "by_tier", "subgroups",
                "flagged", "by_action"}
    for month in on_disk["months"]:
        assert required <= set(month)
    july = on_disk["months"][0]
    assert july["as_of"] == "2024-07-01"
    assert sum(t["n"] for t in july["by_tier"]) == july["n_outcomes"]
    assert {g["attribute"] for g in july["subgroups"]} >= {"sex", "age_band", "wimd_quintile", "local_authority"}
    assert sum(g["n"] for g in july["subgroups"] if g["attribute"] == "sex") == july["n_outcomes"]
    flagged = july["flagged"]
    assert july["n_flagged"] == 60 and 50 < flagged["n"] <= 60  # a few flagged people moved away (censored)
    assert 0 < flagged["ppv"] <= 1 and flagged["ppv_ci_low"] <= flagged["ppv"] <= flagged["ppv_ci_high"]
    by_action = {a["group"]: a for a in july["by_action"]}
    assert set(by_action) == {"acted on", "not acted on"} and july["holdout_effect"] is None
    assert 15 <= by_action["acted on"]["n"] <= 20 and by_action["acted on"]["n"] + by_action["not acted on"]["n"] == flagged["n"]
    page = (monitored["out"] / "monitor.html").read_text()
    assert "2024-07" in page and "partial: " in page and "Descriptive, not causal" in page
    scores = SCORES.load(monitored["root"] / "2024-07", columns=["person_key"])
    assert not any(key in page for key in scores["person_key"].head(200))


def test_complete_months_are_logged_to_the_model_version(monitored):
    registered = monitored["registered"]
    history = tracking.realised_history(registered.run_id, "auroc")
    assert history == [(202407, pytest.approx(monitored["months"]["2024-07"]["auroc"]))]
    assert np.isfinite(tracking.run_data(registered.run_id)["metrics"]["realised_observed_expected"])
    board = compare_runs(csv=None, tracking_uri=monitored["tracking_uri"], console=Console(width=250))
    row = board.set_index("run_id").loc[registered.run_id]
    assert row["realised_auroc"] == pytest.approx(monitored["months"]["2024-07"]["auroc"])
    assert row["test_auroc_ci_low"] < row["test_auroc_ci_high"]  # validated beside realised


def test_cli_monitor_refuses_a_runs_folder_without_runs(tmp_path, world_dir, capsys):
    assert main(["monitor", "--extract", str(world_dir / "extract"), "--runs", str(tmp_path),
                 "--out", str(tmp_path / "m")]) == 1
    assert "no scoring run is recorded" in "".join(capsys.readouterr())


def test_the_holdout_is_recorded_withheld_from_the_list_and_compared_by_monitor(monitored):
    folder = monitored["root"] / "2025-06"
    scores = SCORES.load(folder, columns=["person_key", "tier", "holdout"])
    held = set(scores.loc[scores["holdout"], "person_key"])
    assert 5 < len(held) < 35 and scores.loc[scores["holdout"], "tier"].eq("high").all()
    assert monitored["open_month"].manifest.row_counts["held_out"] == len(held)
    assert monitored["open_month"].ledger_entry["holdout_percent"] == 30
    risk_list = pd.read_csv(folder / "risk_list.csv", dtype=str)
    assert (risk_list["tier"] == "high").sum() == 60 - len(held)
    listed_keys = set(person_keys(os.environ["FALLS_RISK_SECRET"].encode(), risk_list["nhs_number"]))
    assert not held & listed_keys
    # The re-run of the month drew nobody anew: identical outputs, the ledger unchanged.
    assert monitored["rerun"].recorded is False
    month = monitored["months"]["2025-06"]
    assert month["n_holdout"] == len(held) and month["by_action_is_causal"]
    effect = month["holdout_effect"]
    assert effect["n_holdout"] + effect["n_listed"] == month["flagged"]["n"]
    assert effect["ci_low"] <= effect["difference"] <= effect["ci_high"]
    assert "Randomised comparison" in (monitored["out"] / "monitor.html").read_text()


def test_the_next_months_worklists_say_when_a_person_was_last_acted_on(monitored):
    pages = " ".join(p.read_text() for p in (monitored["root"] / "2025-06").rglob("*.html") if "worklist" in str(p))
    risk_list = pd.read_csv(monitored["root"] / "2025-06" / "risk_list.csv", dtype=str)
    again = set(risk_list["nhs_number"]) & set(monitored["assessed"]["nhs_number"])
    assert again, "some of July's assessed people are on June 2025's list"
    assert "assessed on" in pages
