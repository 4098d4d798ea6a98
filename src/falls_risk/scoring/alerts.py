"""Event alerts: things that happened since the last run and that a practitioner should hear of.

An ambulance call for a fall where the person was not taken to hospital, an emergency-department
attendance for a fall, a police concern-for-welfare incident, or an application for a housing
adaptation: each is a chance to act now. Each alert carries the person's current risk.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

# Event codes of the events table (falls_risk.features.events) -> what a practitioner reads.
# A code ending in "/" matches every code it begins (housing/application/<adaptation type>).
ALERT_CODES: dict[str, str] = {
    "ambulance/fall_not_conveyed": "ambulance call for a fall, not taken to hospital",
    "ed/fall": "emergency department attendance for a fall",
    "police/concern_for_welfare": "police concern-for-welfare incident",
    "housing/application/": "application for a housing adaptation",
}


def alert_text(code: pd.Series, codes: dict[str, str]) -> pd.Series:
    """The alert wording for each event code (null when the code does not alert)."""
    out = pd.Series(pd.NA, index=code.index, dtype="string")
    for pattern, text in codes.items():
        hit = code.str.startswith(pattern) if pattern.endswith("/") else code == pattern
        out = out.mask(hit.fillna(False) & out.isna(), text)
    return out


def event_alerts(
    events: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    since: date,
    until: date,
    codes: dict[str, str] | None = None,
    min_match_probability: float = 0.0,
) -> pd.DataFrame:
    """Alerts for events in ``[since, until)`` of the eligible people in ``scores``.

    ``events`` is the events table (``person_key``, ``event_time``, ``code``, optionally
    ``match_probability``); ``scores`` has ``person_key``, ``probability``, ``tier``, ``rank``.
    Returns one row per event: ``person_key``, ``event_date``, ``code``, ``alert``,
    ``probability``, ``tier``, ``rank``; highest risk first, then most recent.
    """
    codes = ALERT_CODES if codes is None else codes
    columns = ["person_key", "event_date", "code", "alert", "probability", "tier", "rank"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    times = pd.to_datetime(events["event_time"])
    text = alert_text(events["code"].astype("string"), codes)
    keep = (
        text.notna()
        & events["person_key"].notna()
        & (times >= pd.Timestamp(datetime.combine(since, datetime.min.time())))
        & (times < pd.Timestamp(datetime.combine(until, datetime.min.time())))
    )
    if "match_probability" in events.columns and min_match_probability > 0:
        keep &= events["match_probability"].fillna(0) >= min_match_probability
    hits = events.loc[keep, ["person_key", "code"]].assign(event_date=times[keep].dt.date, alert=text[keep])
    hits = hits.drop_duplicates()
    out = hits.merge(scores[["person_key", "probability", "tier", "rank"]], on="person_key", how="inner")
    out["tier"] = out["tier"].astype("string")
    out = out.sort_values(["probability", "event_date", "person_key"], ascending=[False, False, True])
    return out[columns].reset_index(drop=True)
