"""Who is notified of what: the notified tiers, the not-yet-scored fall, and everything else counted."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from falls_risk.errors import ConfigError
from falls_risk.notify.candidates import candidates
from falls_risk.notify.config import load_notify_config


def _event(person, *, fall=True, p=1.0, rule="ed_fall", day="2025-12-02"):
    return {"person_key": person, "source": "ed_attendances", "record_id": f"R-{person}", "row_number": 1,
            "event_date": date.fromisoformat(day), "rule": rule, "at": "start", "event": rule, "fall": fall,
            "match_probability": p}


def test_only_the_notified_tiers_and_not_yet_scored_falls_are_notified_and_the_rest_is_counted():
    events = pd.DataFrame([
        _event("high1"), _event("mod1", fall=False, rule="police_victim"), _event("low1"),
        _event("new65"),                                  # not scored, 65+, a fall: notified as not yet scored
        _event("new70", fall=False, rule="discharge"),    # not scored, not a fall: counted
        _event("young"),                                  # not scored, 58: not in the cohort
        _event("weak", p=0.5),                            # linked too weakly to name anyone
    ])
    scores = pd.DataFrame({"person_key": ["high1", "mod1", "low1", "weak"], "probability": [0.3, 0.1, 0.01, 0.4],
                           "tier": ["high", "moderate", "low", "high"], "reasons": ["r1", "", "", "r4"],
                           "suggested_actions": ["", "", "", ""]})
    teams = pd.DataFrame({"person_key": ["high1", "mod1", "low1", "new65", "new70", "young", "weak"],
                          "local_authority": ["Cardiff"] * 7,
                          "birth_month": ["1940-01", "1950-01", "1945-01", "1960-06", "1955-01", "1967-05", "1940-01"]})
    found = candidates(events, scores, teams, tiers=["high", "moderate"], min_match_probability=0.9)
    notified = found.notify.set_index("person_key")
    assert set(notified.index) == {"high1", "mod1", "new65"}
    assert notified.loc["new65", "tier"] == "not yet scored" and pd.isna(notified.loc["new65", "risk_percent"])
    assert notified.loc["high1", "risk_percent"] == 30.0
    assert found.counts == {"events": 7, "weak_links": 1, "below_notified_tiers": 1, "not_scored_not_fall": 1,
                            "not_scored_under_age": 1, "not_yet_scored": 1, "scored_in_tiers": 2}


def test_a_config_with_an_unknown_tier_or_event_or_email_without_smtp_is_refused(tmp_path):
    for text, message in (("tiers: [urgent]", "unknown tier"), ("events: [gp_visit]", "unknown event"),
                          ("teams: {Cardiff: {email: {to: [a@b.c]}}}", "no smtp section"),
                          ("daily_cap: 0", "daily_cap")):
        path = tmp_path / "notify.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_notify_config(path)
