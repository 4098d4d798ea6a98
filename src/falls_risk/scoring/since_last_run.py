"""What is new since the previous run, found on the tiered scores before anyone is explained:
event alerts (late deliveries included), entrants to and leavers from the flagged tier, and the
biggest risers. The people they name are explained together with the flagged tier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from falls_risk.scoring.alerts import LATE_ARRIVAL_LOOKBACK_DAYS, alertable_events, event_alerts
from falls_risk.scoring.changes import ENTERED, LEFT, biggest_risers, tier_changes
from falls_risk.scoring.previous import PreviousRun


@dataclass(frozen=True)
class SinceLastRun:
    """``changes`` and ``risers`` are None when there is no previous run to compare with."""

    since: date
    until: date
    alerts_from: date
    alerts: pd.DataFrame
    seen_now: pd.DataFrame
    changes: pd.DataFrame | None
    risers: pd.DataFrame | None

    def _changed(self, kind: str) -> set[str]:
        if self.changes is None:
            return set()
        return set(self.changes.loc[self.changes["change"] == kind, "person_key"])

    @property
    def entrants(self) -> set[str]:
        return self._changed(ENTERED)

    @property
    def leavers(self) -> set[str]:
        return self._changed(LEFT)

    @property
    def people_to_explain(self) -> set[str]:
        """Everyone this run names for a reason other than their tier: alerts, risers, leavers."""
        risers = set() if self.risers is None else set(self.risers["person_key"])
        return set(self.alerts["person_key"]) | risers | self.leavers

    def with_risers(self, risers: pd.DataFrame) -> SinceLastRun:
        return SinceLastRun(self.since, self.until, self.alerts_from, self.alerts, self.seen_now, self.changes, risers)


def alert_period(as_of: date, previous: PreviousRun | None) -> tuple[date, date]:
    """(since, alerts_from): since the previous run's as-of date (else a month back); with a previous
    run that kept what it saw, alerts reach back further for events delivered late."""
    since = (
        date.fromisoformat(previous.entry["as_of"]) if previous
        else (pd.Timestamp(as_of) - pd.DateOffset(months=1)).date()
    )
    seen_before = previous is not None and previous.alert_events_seen is not None
    return since, since - timedelta(days=LATE_ARRIVAL_LOOKBACK_DAYS) if seen_before else since


def find_since_last_run(
    scores: pd.DataFrame,
    previous: PreviousRun | None,
    events_between: Callable[[date, date], pd.DataFrame],
    *,
    as_of: date,
    min_match_probability: float,
    n_risers: int,
) -> SinceLastRun:
    """``events_between(since, until)`` reads the linked events of ``[since, until)``."""
    since, alerts_from = alert_period(as_of, previous)
    lookback = timedelta(days=LATE_ARRIVAL_LOOKBACK_DAYS)
    events = events_between(since - lookback, as_of)
    seen_now = alertable_events(events, since=as_of - lookback, until=as_of,
                                min_match_probability=min_match_probability)
    alerts = event_alerts(events, scores, since=alerts_from, until=as_of,
                          already_seen=None if previous is None else previous.alert_events_seen,
                          min_match_probability=min_match_probability)
    changes = risers = None
    if previous is not None and previous.scores is not None:
        changes = tier_changes(scores, previous.scores)
        risers = biggest_risers(scores, previous.scores, n_risers)
    return SinceLastRun(since=since, until=as_of, alerts_from=alerts_from, alerts=alerts,
                        seen_now=seen_now.drop(columns="alert"), changes=changes, risers=risers)
