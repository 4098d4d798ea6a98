"""Candidate events built by hand, for the state and channel tests."""

from __future__ import annotations

from datetime import date

import pandas as pd


def candidate(person: str, day: str, *, record: str, team: str = "Cardiff", risk: float | None = 20.0,
              tier: str = "high", source: str = "ed_attendances", at: str = "start",
              event: str = "emergency department attendance for a fall", row: int = 1) -> dict:
    return {
        "person_key": person, "source": source, "record_id": record, "row_number": row,
        "event_date": date.fromisoformat(day), "rule": "ed_fall", "at": at, "event": event, "fall": True,
        "match_probability": 1.0, "probability": None if risk is None else risk / 100, "tier": tier,
        "reasons": "Health board: 2 falls (raises risk by 3.0 points).", "suggested_actions": "",
        "local_authority": team, "scored": risk is not None, "risk_percent": risk,
    }


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))
