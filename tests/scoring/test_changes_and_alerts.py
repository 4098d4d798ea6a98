from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from falls_risk.scoring.alerts import event_alerts
from falls_risk.scoring.changes import biggest_risers, describe_change_default, explain_risers, tier_changes


def _run(rows):
    return pd.DataFrame(rows, columns=["person_key", "probability", "tier"])


PREVIOUS = _run([("a", 0.40, "high"), ("b", 0.30, "high"), ("c", 0.10, "low"), ("d", 0.05, "low"), ("gone", 0.5, "high")])
CURRENT = _run([("a", 0.45, "high"), ("b", 0.12, "moderate"), ("c", 0.35, "high"), ("d", 0.06, "low"), ("new", 0.4, "high")])


def test_entrants_and_leavers_with_reasons_for_leaving():
    changes = tier_changes(CURRENT, PREVIOUS).set_index("person_key")
    assert set(changes.index[changes["change"] == "entered"]) == {"c", "new"}
    assert set(changes.index[changes["change"] == "left"]) == {"b", "gone"}
    assert "no longer eligible" in changes.loc["gone", "note"]
    assert "newly eligible" in changes.loc["new", "note"]
    assert changes.loc["b", "tier_now"] == "moderate"
    assert changes.loc["c", "probability_before"] == pytest.approx(0.10)


def test_risers_are_the_biggest_increases_among_people_in_both_runs():
    risers = biggest_risers(CURRENT, PREVIOUS, n=2)
    assert list(risers["person_key"]) == ["c", "a"]
    assert risers.loc[0, "rise"] == pytest.approx(0.25)
    assert "new" not in set(biggest_risers(CURRENT, PREVIOUS)["person_key"])  # not in both runs
    assert "b" not in set(biggest_risers(CURRENT, PREVIOUS)["person_key"])  # fell


def test_riser_explanation_names_the_features_whose_contribution_grew():
    risers = biggest_risers(CURRENT, PREVIOUS, n=1)  # c: 0.10 -> 0.35
    logit = lambda p: np.log(p / (1 - p))
    total = logit(0.35) - logit(0.10)
    before = pd.DataFrame({"falls": [0.0], "age": [0.2], "care": [0.1]}, index=pd.Index(["c"], name="person_key"))
    now = before + pd.DataFrame({"falls": [total - 0.1], "age": [0.15], "care": [-0.05]}, index=before.index)
    feats_before = pd.DataFrame({"falls": [0], "age": [80], "care": [1]}, index=before.index)
    feats_now = pd.DataFrame({"falls": [2], "age": [81], "care": [0]}, index=before.index)
    same_model = pd.Series([0.10], index=before.index)  # current model on last run's features
    out = explain_risers(risers, now, before, feats_now, feats_before, describe_change_default(), top_n=3,
                         probability_on_before=same_model)
    why = out.loc[0, "why"]
    assert why.startswith("falls: 0 → 2 (+")
    assert "age: 80 → 81" in why and "care" not in why  # care pushed the score down
    assert out.loc[0, "feature_change_points"] == pytest.approx(25.0)
    assert out.loc[0, "model_change_points"] == pytest.approx(0, abs=1e-9)  # same model: all from features

    new_model = pd.Series([0.20], index=before.index)  # a new model already scored the old features higher
    out = explain_risers(risers, now, before, feats_now, feats_before, describe_change_default(),
                         probability_on_before=new_model)
    assert out.loc[0, "model_change_points"] == pytest.approx(10.0)
    assert out.loc[0, "feature_change_points"] == pytest.approx(15.0)


def test_event_alerts_cover_the_period_since_last_run_with_current_risk():
    events = pd.DataFrame(
        {
            "person_key": ["a", "a", "c", "d", "zz", "c"],
            "event_time": pd.to_datetime(
                ["2026-02-10 00:00", "2026-01-20 00:00", "2026-02-28 23:00", "2026-02-15 00:00", "2026-02-15 00:00", "2026-03-01 00:00"]
            ),
            "code": [
                "ambulance/fall_not_conveyed",
                "ed/fall",  # before the period
                "police/concern_for_welfare",
                "gp/12345",  # not an alert code
                "ed/fall",  # not eligible now
                "housing/application/stairlift",  # on the as-of date: after the period
            ],
        }
    )
    scores = CURRENT.assign(rank=range(1, 6))
    alerts = event_alerts(events, scores, since=date(2026, 2, 1), until=date(2026, 3, 1))
    assert list(alerts["person_key"]) == ["a", "c"]  # highest risk first
    assert alerts.loc[0, "alert"] == "ambulance call for a fall, not taken to hospital"
    assert alerts.loc[1, "probability"] == pytest.approx(0.35) and alerts.loc[1, "tier"] == "high"
    assert alerts.loc[1, "event_date"] == datetime(2026, 2, 28).date()
    later = event_alerts(events, scores, since=date(2026, 2, 1), until=date(2026, 3, 2))
    assert "application for a housing adaptation" in set(later["alert"])


def test_an_event_delivered_late_alerts_once_in_the_first_run_that_sees_it():
    """Police deliver weeks late: an incident dated before the last run, absent from its extract,
    alerts in this run; one the last run already saw does not alert again."""
    scores = CURRENT.assign(rank=range(1, 6))
    seen_by_last_run = pd.DataFrame({"person_key": ["a"], "event_date": [date(2026, 1, 20)], "code": ["ed/fall"]})
    events = pd.DataFrame(
        {
            "person_key": ["a", "c", "c"],
            "event_time": pd.to_datetime(["2026-01-20 10:00", "2026-01-11 09:00", "2026-02-20 09:00"]),
            "code": ["ed/fall", "police/concern_for_welfare", "ed/fall"],
        }
    )
    alerts = event_alerts(events, scores, since=date(2025, 10, 1), until=date(2026, 3, 1),
                          already_seen=seen_by_last_run)
    assert sorted(zip(alerts["person_key"], alerts["event_date"].astype(str), strict=True)) == [
        ("c", "2026-01-11"), ("c", "2026-02-20")]
