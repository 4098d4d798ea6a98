"""Event alerts: things a practitioner should hear of that the last run did not know.

An ambulance call for a fall where the person was not taken to hospital, an emergency-department
attendance for a fall, a police concern-for-welfare incident, or an application for a housing
adaptation: each is a chance to act now. Each alert carries the person's current risk.

Agencies deliver late (police records can arrive two months after the incident), so "new" means
new to this run, not dated since the last one: a run looks ``LATE_ARRIVAL_LOOKBACK_DAYS`` before
the previous run's date, and leaves out the events that run had already seen (each run keeps the
alertable events of its own look-back window, pseudonymised, as ``alert_events_seen.parquet``).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from falls_risk.events import vocabulary

# Event code patterns -> what a practitioner reads (the events vocabulary's alertable codes; a
# pattern ending in "*" matches every code that starts with the text before it).
ALERT_CODES: dict[str, str] = vocabulary.ALERTS


def alert_text(code: pd.Series, codes: dict[str, str]) -> pd.Series:
    """The alert wording for each event code (null when the code does not alert)."""
    # Matched once per distinct code: an events table has millions of rows but few codes.
    wording = {c: vocabulary.alert_wording(c, codes) for c in code.dropna().unique()}
    return code.map(wording).astype("string")


# Longer than any agency's delivery lag (police: 61 days in the default feature config).
LATE_ARRIVAL_LOOKBACK_DAYS = 120
EVENT_KEY = ["person_key", "event_date", "code"]


def alertable_events(
    events: pd.DataFrame,
    *,
    since: date,
    until: date,
    codes: dict[str, str] | None = None,
    min_match_probability: float = 0.0,
) -> pd.DataFrame:
    """The linked events in ``[since, until)`` that alert: ``person_key``, ``event_date``, ``code``,
    ``alert``, one row per distinct event key."""
    codes = ALERT_CODES if codes is None else codes
    if events.empty:
        return pd.DataFrame(columns=[*EVENT_KEY, "alert"])
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
    # Sorted: a re-run of a month writes the same bytes.
    return hits[[*EVENT_KEY, "alert"]].drop_duplicates(EVENT_KEY).sort_values(EVENT_KEY).reset_index(drop=True)


def event_alerts(
    events: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    since: date,
    until: date,
    codes: dict[str, str] | None = None,
    min_match_probability: float = 0.0,
    already_seen: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Alerts for events in ``[since, until)`` of the eligible people in ``scores``, leaving out
    the events in ``already_seen`` (``person_key``, ``event_date``, ``code``: what the previous
    run knew).

    ``events`` is the events table (``person_key``, ``event_time``, ``code``, optionally
    ``match_probability``); ``scores`` has ``person_key``, ``probability``, ``tier``, ``rank``.
    Returns one row per event: ``person_key``, ``event_date``, ``code``, ``alert``,
    ``probability``, ``tier``, ``rank``; highest risk first, then most recent.
    """
    columns = ["person_key", "event_date", "code", "alert", "probability", "tier", "rank"]
    hits = alertable_events(events, since=since, until=until, codes=codes,
                            min_match_probability=min_match_probability)
    if already_seen is not None and len(already_seen) and len(hits):
        seen = already_seen[EVENT_KEY].assign(event_date=lambda f: pd.to_datetime(f["event_date"]).dt.date)
        hits = hits.merge(seen.drop_duplicates(), on=EVENT_KEY, how="left", indicator=True)
        hits = hits[hits.pop("_merge") == "left_only"]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    out = hits.merge(scores[["person_key", "probability", "tier", "rank"]], on="person_key", how="inner")
    out["tier"] = out["tier"].astype("string")
    out = out.sort_values(["probability", "event_date", "person_key"], ascending=[False, False, True])
    return out[columns].reset_index(drop=True)
